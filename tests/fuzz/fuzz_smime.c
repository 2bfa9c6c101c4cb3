/*
 * libFuzzer target: client/smime reading hostile mail.  Each input is a
 * message given to smime_verify() (streaming MIME, base64, CMS parsing
 * and the checks) and to smime_decrypt() without keys (layers, bare CMS,
 * the EnvelopedData walker).  Nothing must crash, leak or read out of
 * bounds, whatever the verdict.  Seeds: corpus/fuzz_smime/ (signed,
 * opaque, bare CMS in BER and in PEM with chunked content, enveloped
 * with RSA and ECDH recipients, 8-bit multipart).
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "smime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smime_verify_opts vo;
	struct smime_decrypt_opts dopts;
	struct smime_decrypt_result res;
	struct smime_signer_info si;
	enum smime_vstatus st;
	struct smime_rd rd;
	static int devnull = -1;

	if (devnull < 0)
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	memset(&vo, 0, sizeof(vo));
	vo.no_system_trust = true;
	vo.now = 1800000000;
	if (smime_rd_init_mem(&rd, data, size) == 0)
		(void)smime_verify(&rd, devnull, &vo, &st, &si);
	smime_signer_info_cleanup(&si);
	smime_rd_cleanup(&rd);
	memset(&dopts, 0, sizeof(dopts));
	dopts.vopts = &vo;
	dopts.verify = true;
	if (smime_rd_init_mem(&rd, data, size) == 0)
		(void)smime_decrypt(&rd, devnull, &dopts, &res);
	smime_decrypt_result_cleanup(&res);
	smime_rd_cleanup(&rd);
	return 0;
}
