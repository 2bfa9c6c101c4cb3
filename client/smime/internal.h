/*
 * Declarations shared by the files of client/smime only.
 */
#ifndef P11AGENT_SMIME_INTERNAL_H
#define P11AGENT_SMIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ber.h"
#include "key.h"
#include "io.h"
#include "mime.h"
#include "smime.h"

/*
 * Builds a detached ContentInfo/SignedData (DER, by hand: sign.c needs
 * no libcrypto) over content whose digest under md_nid is dg: the
 * signer's certificate and chain, the signed attributes of RFC 8551
 * (contentType, signingTime, messageDigest, SMIMECapabilities,
 * signing-certificate-v2), signed by the signer's callback.  *der is
 * freed with free().  Returns 0 or a negative code (see smime_sign()).
 */
int smime_build_signed_data(const struct smime_signer *signer, int md_nid,
                            bool pss, const uint8_t *dg, size_t dglen,
                            uint8_t **der, size_t *derlen);

/* Copies the outer fields to outer and the Content-* ones to entity. */
int smime_split_hdrs(const struct smime_hdrs *all, struct smime_hdrs *outer,
                     struct smime_hdrs *entity);

/* application/pkcs7-mime (or x-, or octet-stream named *.p7m)? */
bool smime_is_pkcs7_mime(const struct smime_ct *ct);

/*
 * Reads the rest of a body into mem, base64-decoded when the header
 * says so, else with CRLF line endings.
 */
struct smime_memsink;
int smime_read_body(struct smime_rd *rd, const struct smime_hdrs *h,
                    struct smime_memsink *mem);

/* How the body after header section h is encoded, for smime_ber_src. */
enum smime_ber_enc smime_body_enc(const struct smime_hdrs *h);

/* smime_verify() for a message whose header section h was read already. */
int smime_verify_entity(struct smime_rd *rd, const struct smime_hdrs *h,
                        int content_fd, const struct smime_verify_opts *o,
                        enum smime_vstatus *status,
                        struct smime_signer_info *si);

/*
 * When the input is bare CMS (DER, or PEM) rather than mail, reads it
 * all into mem (decoded) and sets *bare.  Returns 0 or a negative code.
 */
int smime_bare_cms(struct smime_rd *rd, struct smime_memsink *mem, bool *bare);

#endif
