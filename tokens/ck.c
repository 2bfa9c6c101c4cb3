/*
 * The one place that turns Cryptoki results into p11agent errors and log
 * lines.  Every C_* failure in tokens/ goes through tok_ck_fail().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/err.h"
#include "tokens/internal.h"

static void (*log_fn)(enum tok_log_level, const char *);
static enum tok_log_level log_max = TOK_LOG_WARNING;

void
tok_set_log(void (*fn)(enum tok_log_level level, const char *line),
            enum tok_log_level max_level)
{
	log_fn = fn;
	log_max = max_level;
}

void
tok_log(enum tok_log_level level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_fn != NULL)
		log_fn(level, line);
	else
		fprintf(stderr, "p11agent tokens: %s\n", line);
}

void
tok_errf(struct tok_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

struct ck_rv_entry {
	CK_RV rv;
	const char *name;
	int code;
};

/* Results we name in logs and map to a specific p11agent error. */
static const struct ck_rv_entry rv_table[] = {
    {CKR_OK, "CKR_OK", P11A_OK},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY", P11A_E_NOMEM},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY", P11A_E_TOKEN},
    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID", P11A_E_TOKEN_ABSENT},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR", P11A_E_TOKEN},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED", P11A_E_TOKEN},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD", P11A_E_ARGS},
    {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID", P11A_E_TOKEN},
    {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE", P11A_E_TOKEN},
    {CKR_DATA_INVALID, "CKR_DATA_INVALID", P11A_E_FORMAT},
    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE", P11A_E_FORMAT},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", P11A_E_TOKEN},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", P11A_E_TOKEN_ABSENT},
    {CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID", P11A_E_DECRYPT},
    {CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE",
     P11A_E_DECRYPT},
    {CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED", P11A_E_CANCELLED},
    {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED",
     P11A_E_MECH_UNSUPPORTED},
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID", P11A_E_KEY_NOT_FOUND},
    {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE", P11A_E_MECH_UNSUPPORTED},
    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT", P11A_E_KEY_TYPE},
    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED",
     P11A_E_KEY_TYPE},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID", P11A_E_MECH_UNSUPPORTED},
    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID",
     P11A_E_MECH_UNSUPPORTED},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID",
     P11A_E_KEY_NOT_FOUND},
    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE", P11A_E_TOKEN},
    {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED",
     P11A_E_TOKEN},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT", P11A_E_PIN_INCORRECT},
    {CKR_PIN_INVALID, "CKR_PIN_INVALID", P11A_E_PIN_INVALID},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE", P11A_E_PIN_INVALID},
    {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED", P11A_E_PIN_EXPIRED},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED", P11A_E_PIN_LOCKED},
    {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED", P11A_E_TOKEN},
    {CKR_SESSION_COUNT, "CKR_SESSION_COUNT", P11A_E_TOKEN},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID", P11A_E_TOKEN},
    {CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID", P11A_E_SIGNATURE},
    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE", P11A_E_TOKEN},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT", P11A_E_TOKEN},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT", P11A_E_TOKEN_ABSENT},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED", P11A_E_TOKEN_ABSENT},
    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN", P11A_OK},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN", P11A_E_LOGIN_REQUIRED},
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED",
     P11A_E_PIN_INVALID},
    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID", P11A_E_TOKEN},
    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL", P11A_E_INTERNAL},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED",
     P11A_E_INTERNAL},
    {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED",
     P11A_OK},
};

static const struct ck_rv_entry *
rv_lookup(CK_RV rv)
{
	size_t i;

	for (i = 0; i < sizeof(rv_table) / sizeof(rv_table[0]); i++)
		if (rv_table[i].rv == rv)
			return &rv_table[i];
	return NULL;
}

int
tok_ck_map(CK_RV rv)
{
	const struct ck_rv_entry *e = rv_lookup(rv);

	return e != NULL ? e->code : P11A_E_TOKEN;
}

const char *
tok_ck_name(CK_RV rv)
{
	const struct ck_rv_entry *e = rv_lookup(rv);

	return e != NULL ? e->name : "CKR_(other)";
}

int
tok_ck_fail(const char *fn, CK_RV rv, const char *context)
{
	int code = tok_ck_map(rv);
	/* Wrong PINs and missing logins are user errors, not module faults. */
	enum tok_log_level level =
	    (code == P11A_E_TOKEN || code == P11A_E_INTERNAL) ? TOK_LOG_WARNING
	                                                      : TOK_LOG_DEBUG;

	tok_log(level, "%s: %s (0x%lx)%s%s", fn, tok_ck_name(rv),
	        (unsigned long)rv, context != NULL ? " for " : "",
	        context != NULL ? context : "");
	return code;
}

void
tok_ck_string(char *dst, size_t dst_size, const CK_UTF8CHAR *src,
              size_t src_len)
{
	size_t n = src_len < dst_size - 1 ? src_len : dst_size - 1;

	memcpy(dst, src, n);
	while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\0'))
		n--;
	dst[n] = '\0';
}

int
tok_ck_get_attr(struct tok_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                CK_ATTRIBUTE_TYPE type, uint8_t **val, size_t *len)
{
	CK_ATTRIBUTE a = {type, NULL, 0};
	CK_RV rv;
	uint8_t *buf;

	*val = NULL;
	*len = 0;
	rv = t->mod->fl->C_GetAttributeValue(s, o, &a, 1);
	if (rv != CKR_OK)
		return tok_ck_map(rv);
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return P11A_E_TOKEN;
	if ((buf = malloc(a.ulValueLen + 1)) == NULL)
		return P11A_E_NOMEM;
	a.pValue = buf;
	rv = t->mod->fl->C_GetAttributeValue(s, o, &a, 1);
	if (rv != CKR_OK) {
		free(buf);
		return tok_ck_map(rv);
	}
	buf[a.ulValueLen] = 0; /* so labels can be used as strings */
	*val = buf;
	*len = a.ulValueLen;
	return 0;
}

int
tok_ck_get_bool(struct tok_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                CK_ATTRIBUTE_TYPE type, int *val)
{
	CK_BBOOL b = CK_FALSE;
	CK_ATTRIBUTE a = {type, &b, sizeof(b)};

	*val = 0;
	if (t->mod->fl->C_GetAttributeValue(s, o, &a, 1) != CKR_OK)
		return P11A_E_TOKEN;
	*val = b == CK_TRUE;
	return 0;
}

unsigned
tok_ck_token_flags(CK_FLAGS f)
{
	unsigned out = 0;

	if (f & CKF_LOGIN_REQUIRED)
		out |= TOK_TF_LOGIN_REQUIRED;
	if (f & CKF_PROTECTED_AUTHENTICATION_PATH)
		out |= TOK_TF_PROTECTED_AUTH_PATH;
	if (f & CKF_USER_PIN_COUNT_LOW)
		out |= TOK_TF_USER_PIN_COUNT_LOW;
	if (f & CKF_USER_PIN_FINAL_TRY)
		out |= TOK_TF_USER_PIN_FINAL_TRY;
	if (f & CKF_USER_PIN_LOCKED)
		out |= TOK_TF_USER_PIN_LOCKED;
	if (f & CKF_USER_PIN_TO_BE_CHANGED)
		out |= TOK_TF_USER_PIN_TO_BE_CHANGED;
	if (f & CKF_TOKEN_INITIALIZED)
		out |= TOK_TF_TOKEN_INITIALIZED;
	return out;
}
