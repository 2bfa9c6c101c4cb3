/*
 * Encryption (smime.h): EnvelopedData (AES-CBC) or AuthEnvelopedData
 * (AES-GCM, RFC 5083/5084), streamed by OpenSSL from a temporary file
 * holding the canonical entity (signed first when asked).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "proto/err.h"
#include "canon.h"
#include "internal.h"
#include "smime.h"

/* A BIO that writes into a struct smime_sink. */
static int
sinkbio_write(BIO *b, const char *p, int n)
{
	struct smime_sink *s = BIO_get_data(b);

	if (n < 0 || smime_put(s, p, (size_t)n) != 0)
		return -1;
	return n;
}

static long
sinkbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
sinkbio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static BIO *
sinkbio_new(struct smime_sink *s, BIO_METHOD **meth)
{
	BIO *b;

	*meth =
	    BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "smime");
	if (*meth == NULL || !BIO_meth_set_write(*meth, sinkbio_write) ||
	    !BIO_meth_set_ctrl(*meth, sinkbio_ctrl) ||
	    !BIO_meth_set_create(*meth, sinkbio_create) ||
	    (b = BIO_new(*meth)) == NULL)
		return NULL;
	BIO_set_data(b, s);
	return b;
}

static const EVP_CIPHER *
cipher_of(enum smime_cipher c)
{
	switch (c) {
	case SMIME_CIPHER_AES128_GCM:
		return EVP_aes_128_gcm();
	case SMIME_CIPHER_AES256_GCM:
		return EVP_aes_256_gcm();
	case SMIME_CIPHER_AES128_CBC:
		return EVP_aes_128_cbc();
	default:
		return EVP_aes_256_cbc();
	}
}

/* Fields that header protection hides (RFC 9788: Subject). */
static int
hp_outer(const struct smime_hdrs *outer, struct smime_hdrs *out)
{
	size_t i;
	int r;

	for (i = 0; i < outer->n; i++) {
		if (smime_strcasecmp(outer->v[i].name, "Subject") == 0)
			r = smime_hdrs_add(out, "Subject: ...");
		else
			r = smime_hdrs_add(out, outer->v[i].raw);
		if (r != 0)
			return r;
	}
	return 0;
}

/* The plaintext: the canonical entity, with the protected fields. */
static int
write_plain(int in_fd, int tmp_fd, const struct smime_encrypt_opts *o,
            const struct smime_hdrs *outer)
{
	struct smime_sign_opts so;
	struct smime_hdrs all, entity, inner;
	struct smime_fdsink out;
	struct smime_lineout lo;
	struct smime_rd rd;
	size_t i;
	int r;

	smime_hdrs_init(&all);
	smime_hdrs_init(&entity);
	smime_hdrs_init(&inner);
	memset(&rd, 0, sizeof(rd));
	memset(&out, 0, sizeof(out));
	if (o->protect_headers) {
		for (i = 0; i < outer->n; i++) {
			if ((r = smime_hdrs_add(&inner, outer->v[i].raw)) != 0)
				goto out;
		}
	}
	if (o->sign != NULL) {
		so = *o->sign;
		so.entity_only = true;
		so.inner = o->protect_headers ? &inner : NULL;
		r = smime_sign(in_fd, tmp_fd, &so);
		goto out;
	}
	if ((r = smime_rd_init_fd(&rd, in_fd)) != 0 ||
	    (r = smime_fdsink_init(&out, tmp_fd)) != 0 ||
	    (r = smime_hdrs_read(&all, &rd)) != 0 ||
	    (r = smime_split_hdrs(&all, NULL, &entity)) != 0)
		goto out;
	/* The protected fields come first, then the entity's own. */
	for (i = 0; i < entity.n; i++) {
		if (o->protect_headers &&
		    smime_strcasecmp(entity.v[i].name, "Content-Type") == 0) {
			char *raw;

			if (asprintf(&raw, "%s; hp=\"cipher\"",
			             entity.v[i].raw) < 0) {
				r = P11A_E_NOMEM;
				goto out;
			}
			r = smime_hdrs_add(&inner, raw);
			free(raw);
		} else {
			r = smime_hdrs_add(&inner, entity.v[i].raw);
		}
		if (r != 0)
			goto out;
	}
	if (o->protect_headers &&
	    smime_hdrs_get(&entity, "Content-Type") == NULL &&
	    (r = smime_hdrs_add(&inner, "Content-Type: text/plain; "
	                                "charset=utf-8; hp=\"cipher\"")) != 0)
		goto out;
	lo.hash = NULL;
	lo.out = &out.base;
	lo.out_eol = "\r\n";
	if ((r = smime_canon_entity(&rd, &inner, SMIME_CANON_BINARY, &lo)) != 0)
		goto out;
	r = smime_finish(&out.base);
out:
	smime_rd_cleanup(&rd);
	smime_fdsink_cleanup(&out);
	smime_hdrs_cleanup(&all);
	smime_hdrs_cleanup(&entity);
	smime_hdrs_cleanup(&inner);
	return r;
}

static int
add_recipients(CMS_ContentInfo *cms, const struct smime_encrypt_opts *o)
{
	CMS_RecipientInfo *ri;
	EVP_PKEY_CTX *pc;
	EVP_PKEY *pk;
	X509 *x;
	int i;

	for (i = 0; i < sk_X509_num(o->recipients); i++) {
		x = sk_X509_value(o->recipients, i);
		if ((pk = X509_get0_pubkey(x)) == NULL)
			return P11A_E_KEY_TYPE;
		if ((ri = CMS_add1_recipient_cert(cms, x, CMS_KEY_PARAM)) ==
		    NULL)
			return P11A_E_KEY_TYPE;
		pc = CMS_RecipientInfo_get0_pkey_ctx(ri);
		if (EVP_PKEY_is_a(pk, "RSA") && o->oaep) {
			if (pc == NULL ||
			    EVP_PKEY_CTX_set_rsa_padding(
			        pc, RSA_PKCS1_OAEP_PADDING) <= 0 ||
			    EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha256()) <=
			        0 ||
			    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) <= 0)
				return P11A_E_INTERNAL;
		} else if (EVP_PKEY_is_a(pk, "EC")) {
			/* dhSinglePass-stdDH-sha256kdf-scheme (RFC 5753),
			 * not OpenSSL's SHA-1 default. */
			if (pc == NULL ||
			    EVP_PKEY_CTX_set_ecdh_kdf_md(pc, EVP_sha256()) <= 0)
				return P11A_E_INTERNAL;
		}
	}
	return 0;
}

int
smime_encrypt(int in_fd, int out_fd, const struct smime_encrypt_opts *o)
{
	struct smime_hdrs all, outer, shown;
	struct smime_fdsink out;
	struct smime_b64sink b64;
	struct smime_rd rd;
	CMS_ContentInfo *cms = NULL;
	BIO_METHOD *meth = NULL;
	BIO *bout = NULL, *bin = NULL;
	const EVP_CIPHER *cipher = cipher_of(o->cipher);
	bool aead = o->cipher == SMIME_CIPHER_AES128_GCM ||
	            o->cipher == SMIME_CIPHER_AES256_GCM;
	const char *eol;
	off_t in0;
	int tmp = -1, r;

	smime_hdrs_init(&all);
	smime_hdrs_init(&outer);
	smime_hdrs_init(&shown);
	memset(&rd, 0, sizeof(rd));
	memset(&out, 0, sizeof(out));
	if (sk_X509_num(o->recipients) <= 0)
		return P11A_E_ARGS;
	if ((in0 = lseek(in_fd, 0, SEEK_CUR)) < 0)
		return P11A_E_IO;
	if ((r = smime_rd_init_fd(&rd, in_fd)) != 0 ||
	    (r = smime_hdrs_read(&all, &rd)) != 0 ||
	    (r = smime_split_hdrs(&all, &outer, NULL)) != 0)
		goto out;
	eol = all.eol == SMIME_EOL_CRLF ? "\r\n" : "\n";
	smime_rd_cleanup(&rd);
	if (lseek(in_fd, in0, SEEK_SET) != in0) {
		r = P11A_E_IO;
		goto out;
	}
	if ((r = smime_tmpfile(o->tmpdir, &tmp)) != 0 ||
	    (r = write_plain(in_fd, tmp, o, &outer)) != 0)
		goto out;
	if (lseek(tmp, 0, SEEK_SET) != 0) {
		r = P11A_E_IO;
		goto out;
	}
	r = P11A_E_NOMEM;
	if ((cms = CMS_encrypt(NULL, NULL, cipher,
	                       CMS_PARTIAL | CMS_STREAM | CMS_BINARY)) == NULL)
		goto out;
	if ((r = add_recipients(cms, o)) != 0)
		goto out;
	/* The outer message. */
	if ((r = smime_fdsink_init(&out, out_fd)) != 0)
		goto out;
	if (o->protect_headers) {
		if ((r = hp_outer(&outer, &shown)) != 0)
			goto out;
		smime_hdrs_write(&shown, &out.base, eol);
	} else {
		smime_hdrs_write(&outer, &out.base, eol);
	}
	smime_puts(&out.base, "MIME-Version: 1.0");
	smime_puts(&out.base, eol);
	smime_puts(&out.base, aead ? "Content-Type: application/pkcs7-mime; "
	                             "smime-type=authEnveloped-data;"
	                           : "Content-Type: application/pkcs7-mime; "
	                             "smime-type=enveloped-data;");
	smime_puts(&out.base, eol);
	smime_puts(&out.base, "\tname=\"smime.p7m\"");
	smime_puts(&out.base, eol);
	smime_puts(&out.base, "Content-Transfer-Encoding: base64");
	smime_puts(&out.base, eol);
	smime_puts(&out.base,
	           "Content-Disposition: attachment; filename=\"smime.p7m\"");
	smime_puts(&out.base, eol);
	smime_puts(&out.base, "Content-Description: S/MIME Encrypted Message");
	smime_puts(&out.base, eol);
	smime_puts(&out.base, eol);
	if ((r = out.base.err) != 0)
		goto out;
	smime_b64sink_init(&b64, &out.base, eol);
	r = P11A_E_NOMEM;
	if ((bout = sinkbio_new(&b64.base, &meth)) == NULL ||
	    (bin = BIO_new_fd(tmp, BIO_NOCLOSE)) == NULL)
		goto out;
	if (i2d_CMS_bio_stream(bout, cms, bin, CMS_STREAM | CMS_BINARY) != 1) {
		r = b64.base.err != 0 ? b64.base.err : P11A_E_INTERNAL;
		goto out;
	}
	if ((r = smime_finish(&b64.base)) != 0)
		goto out;
	r = smime_finish(&out.base);
out:
	ERR_clear_error();
	BIO_free(bout);
	BIO_free(bin);
	BIO_meth_free(meth);
	CMS_ContentInfo_free(cms);
	if (tmp >= 0)
		close(tmp);
	smime_rd_cleanup(&rd);
	smime_fdsink_cleanup(&out);
	smime_hdrs_cleanup(&all);
	smime_hdrs_cleanup(&outer);
	smime_hdrs_cleanup(&shown);
	return r;
}
