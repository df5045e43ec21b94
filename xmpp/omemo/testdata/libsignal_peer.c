/*
 * A libsignal-protocol-c peer for the interoperability test
 * (TestInteropLibsignal): the library profanity uses, driven line by line
 * over stdin/stdout. Byte strings are hex.
 *
 *   bundle                      -> regid prekeyid prekey spkid spk signature identity
 *   process regid devid pkid pk spkid spk sig identity   (start a session)
 *   encrypt plaintext           -> type message   (3: pre-key message, 2: message)
 *   decrypt type message        -> plaintext
 *
 * Errors are printed as "error CODE".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <signal/signal_protocol.h>
#include <signal/key_helper.h>
#include <signal/session_builder.h>
#include <signal/session_cipher.h>
#include <signal/session_pre_key.h>
#include <signal/protocol.h>
#include <signal/curve.h>
#include <signal/ratchet.h>

static signal_context *ctx;
static signal_protocol_store_context *store;
static signal_protocol_address peer = {"peer", 4, 1};

/* --- crypto provider (OpenSSL) --- */

static int random_fn(uint8_t *data, size_t len, void *u) { return RAND_bytes(data, len) == 1 ? 0 : SG_ERR_UNKNOWN; }
static int hmac_init(void **c, const uint8_t *key, size_t key_len, void *u) {
	HMAC_CTX *h = HMAC_CTX_new();
	*c = h;
	return HMAC_Init_ex(h, key, key_len, EVP_sha256(), NULL) == 1 ? 0 : SG_ERR_UNKNOWN;
}
static int hmac_update(void *c, const uint8_t *d, size_t n, void *u) { return HMAC_Update(c, d, n) == 1 ? 0 : SG_ERR_UNKNOWN; }
static int hmac_final(void *c, signal_buffer **out, void *u) {
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int n;
	if (HMAC_Final(c, md, &n) != 1) return SG_ERR_UNKNOWN;
	*out = signal_buffer_create(md, n);
	return 0;
}
static void hmac_cleanup(void *c, void *u) { HMAC_CTX_free(c); }
static int sha_init(void **c, void *u) {
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	*c = m;
	return EVP_DigestInit_ex(m, EVP_sha512(), NULL) == 1 ? 0 : SG_ERR_UNKNOWN;
}
static int sha_update(void *c, const uint8_t *d, size_t n, void *u) { return EVP_DigestUpdate(c, d, n) == 1 ? 0 : SG_ERR_UNKNOWN; }
static int sha_final(void *c, signal_buffer **out, void *u) {
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int n;
	if (EVP_DigestFinal_ex(c, md, &n) != 1) return SG_ERR_UNKNOWN;
	*out = signal_buffer_create(md, n);
	return EVP_DigestInit_ex(c, EVP_sha512(), NULL) == 1 ? 0 : SG_ERR_UNKNOWN;
}
static void sha_cleanup(void *c, void *u) { EVP_MD_CTX_free(c); }
static int aes_cbc(signal_buffer **out, int cipher, const uint8_t *key, size_t key_len, const uint8_t *iv,
		const uint8_t *in, size_t in_len, int enc) {
	if (cipher != SG_CIPHER_AES_CBC_PKCS5 || key_len != 32) return SG_ERR_UNKNOWN;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t *buf = malloc(in_len + 32);
	int n1 = 0, n2 = 0;
	int ok = EVP_CipherInit_ex(c, EVP_aes_256_cbc(), NULL, key, iv, enc) == 1 &&
		EVP_CipherUpdate(c, buf, &n1, in, in_len) == 1 && EVP_CipherFinal_ex(c, buf + n1, &n2) == 1;
	EVP_CIPHER_CTX_free(c);
	if (ok) *out = signal_buffer_create(buf, n1 + n2);
	free(buf);
	return ok ? 0 : SG_ERR_UNKNOWN;
}
static int encrypt_fn(signal_buffer **o, int ci, const uint8_t *k, size_t kl, const uint8_t *iv, size_t ivl,
		const uint8_t *p, size_t pl, void *u) { return aes_cbc(o, ci, k, kl, iv, p, pl, 1); }
static int decrypt_fn(signal_buffer **o, int ci, const uint8_t *k, size_t kl, const uint8_t *iv, size_t ivl,
		const uint8_t *p, size_t pl, void *u) { return aes_cbc(o, ci, k, kl, iv, p, pl, 0); }

/* --- stores: one peer, a few keys, all in memory --- */

static signal_buffer *stored_session;
static int load_session(signal_buffer **rec, signal_buffer **user, const signal_protocol_address *a, void *u) {
	if (!stored_session) return 0;
	*rec = signal_buffer_copy(stored_session);
	return 1;
}
static int sub_sessions(signal_int_list **s, const char *n, size_t l, void *u) { *s = signal_int_list_alloc(); return 0; }
static int store_session(const signal_protocol_address *a, uint8_t *r, size_t l, uint8_t *ur, size_t ul, void *u) {
	signal_buffer_free(stored_session);
	stored_session = signal_buffer_create(r, l);
	return 0;
}
static int contains_session(const signal_protocol_address *a, void *u) { return stored_session != NULL; }
static int delete_session(const signal_protocol_address *a, void *u) { signal_buffer_free(stored_session); stored_session = NULL; return 0; }
static int delete_all(const char *n, size_t l, void *u) { return delete_session(NULL, u); }

#define MAX_KEYS 8
typedef struct { uint32_t id; signal_buffer *rec; } key_slot;
static key_slot pre_keys[MAX_KEYS], signed_pre_keys[MAX_KEYS];
static key_slot *find_key(key_slot *slots, uint32_t id) {
	for (int i = 0; i < MAX_KEYS; i++)
		if (slots[i].rec && slots[i].id == id) return &slots[i];
	return NULL;
}
static int load_key(signal_buffer **rec, uint32_t id, void *u) {
	key_slot *k = find_key(u, id);
	if (!k) return SG_ERR_INVALID_KEY_ID;
	*rec = signal_buffer_copy(k->rec);
	return SG_SUCCESS;
}
static int store_key(uint32_t id, uint8_t *r, size_t l, void *u) {
	key_slot *slots = u;
	for (int i = 0; i < MAX_KEYS; i++)
		if (!slots[i].rec) {
			slots[i].id = id;
			slots[i].rec = signal_buffer_create(r, l);
			return 0;
		}
	return SG_ERR_NOMEM;
}
static int contains_key(uint32_t id, void *u) { return find_key(u, id) != NULL; }
static int remove_key(uint32_t id, void *u) {
	key_slot *k = find_key(u, id);
	if (k) {
		signal_buffer_free(k->rec);
		k->rec = NULL;
	}
	return 0;
}

static ratchet_identity_key_pair *identity;
static uint32_t registration_id;
static int get_identity(signal_buffer **pub, signal_buffer **priv, void *u) {
	ec_public_key_serialize(pub, ratchet_identity_key_pair_get_public(identity));
	ec_private_key_serialize(priv, ratchet_identity_key_pair_get_private(identity));
	return 0;
}
static int get_registration_id(void *u, uint32_t *id) { *id = registration_id; return 0; }
static int save_identity(const signal_protocol_address *a, uint8_t *k, size_t l, void *u) { return 0; }
static int trusted(const signal_protocol_address *a, uint8_t *k, size_t l, void *u) { return 1; }

/* --- hex and the commands --- */

static void print_hex(const uint8_t *d, size_t n) {
	for (size_t i = 0; i < n; i++) printf("%02x", d[i]);
}
static size_t parse_hex(const char *s, uint8_t *out) {
	size_t n = 0;
	for (; s[0] && s[1]; s += 2) sscanf(s, "%2hhx", &out[n++]);
	return n;
}
static ec_public_key *parse_key(const char *hex) {
	uint8_t raw[64];
	size_t n = parse_hex(hex, raw);
	ec_public_key *k = NULL;
	return curve_decode_point(&k, raw, n, ctx) == 0 ? k : NULL;
}
static void print_key(ec_public_key *k) {
	signal_buffer *b;
	ec_public_key_serialize(&b, k);
	print_hex(signal_buffer_data(b), signal_buffer_len(b));
	signal_buffer_free(b);
}

int main(void) {
	signal_crypto_provider provider = {random_fn, hmac_init, hmac_update, hmac_final, hmac_cleanup,
		sha_init, sha_update, sha_final, sha_cleanup, encrypt_fn, decrypt_fn, NULL};
	signal_protocol_session_store sessions = {load_session, sub_sessions, store_session, contains_session,
		delete_session, delete_all, NULL, NULL};
	signal_protocol_pre_key_store pks = {load_key, store_key, contains_key, remove_key, NULL, pre_keys};
	signal_protocol_signed_pre_key_store spks = {load_key, store_key, contains_key, remove_key, NULL, signed_pre_keys};
	signal_protocol_identity_key_store ids = {get_identity, get_registration_id, save_identity, trusted, NULL, NULL};
	signal_context_create(&ctx, NULL);
	signal_context_set_crypto_provider(ctx, &provider);
	signal_protocol_store_context_create(&store, ctx);
	signal_protocol_store_context_set_session_store(store, &sessions);
	signal_protocol_store_context_set_pre_key_store(store, &pks);
	signal_protocol_store_context_set_signed_pre_key_store(store, &spks);
	signal_protocol_store_context_set_identity_key_store(store, &ids);

	signal_protocol_key_helper_generate_identity_key_pair(&identity, ctx);
	signal_protocol_key_helper_generate_registration_id(&registration_id, 0, ctx);
	signal_protocol_key_helper_pre_key_list_node *head;
	signal_protocol_key_helper_generate_pre_keys(&head, 7, 1, ctx);
	session_pre_key *pre_key = signal_protocol_key_helper_key_list_element(head);
	session_signed_pre_key *spk;
	signal_protocol_key_helper_generate_signed_pre_key(&spk, identity, 3, 0, ctx);
	signal_protocol_pre_key_store_key(store, pre_key);
	signal_protocol_signed_pre_key_store_key(store, spk);

	session_cipher *cipher = NULL;
	static char line[1 << 17];
	static uint8_t buf[1 << 16];
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof line, stdin)) {
		char cmd[16], a[9][4096];
		int n = sscanf(line, "%15s %4095s %4095s %4095s %4095s %4095s %4095s %4095s %4095s", cmd,
			a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
		int rc = 0;
		if (!strcmp(cmd, "bundle")) {
			printf("%u %u ", registration_id, session_pre_key_get_id(pre_key));
			print_key(ec_key_pair_get_public(session_pre_key_get_key_pair(pre_key)));
			printf(" %u ", session_signed_pre_key_get_id(spk));
			print_key(ec_key_pair_get_public(session_signed_pre_key_get_key_pair(spk)));
			printf(" ");
			print_hex(session_signed_pre_key_get_signature(spk), session_signed_pre_key_get_signature_len(spk));
			printf(" ");
			print_key(ratchet_identity_key_pair_get_public(identity));
			printf("\n");
			continue;
		} else if (!strcmp(cmd, "process") && n == 9) {
			session_pre_key_bundle *bundle;
			session_builder *builder;
			size_t siglen = parse_hex(a[6], buf);
			rc = session_pre_key_bundle_create(&bundle, strtoul(a[0], NULL, 10), strtol(a[1], NULL, 10),
				strtoul(a[2], NULL, 10), parse_key(a[3]), strtoul(a[4], NULL, 10), parse_key(a[5]),
				buf, siglen, parse_key(a[7]));
			if (!rc) rc = session_builder_create(&builder, store, &peer, ctx);
			if (!rc) rc = session_builder_process_pre_key_bundle(builder, bundle);
			if (!rc) { printf("ok\n"); continue; }
		} else if (!strcmp(cmd, "encrypt") && n == 2) {
			ciphertext_message *msg;
			size_t len = parse_hex(a[0], buf);
			if (!cipher) rc = session_cipher_create(&cipher, store, &peer, ctx);
			if (!rc) rc = session_cipher_encrypt(cipher, buf, len, &msg);
			if (!rc) {
				signal_buffer *s = ciphertext_message_get_serialized(msg);
				printf("%d ", ciphertext_message_get_type(msg));
				print_hex(signal_buffer_data(s), signal_buffer_len(s));
				printf("\n");
				continue;
			}
		} else if (!strcmp(cmd, "decrypt") && n == 3) {
			static uint8_t raw[1 << 16];
			size_t len = parse_hex(a[1], raw);
			signal_buffer *plain = NULL;
			if (!cipher) rc = session_cipher_create(&cipher, store, &peer, ctx);
			if (!rc && atoi(a[0]) == CIPHERTEXT_PREKEY_TYPE) {
				pre_key_signal_message *m;
				rc = pre_key_signal_message_deserialize(&m, raw, len, ctx);
				if (!rc) rc = session_cipher_decrypt_pre_key_signal_message(cipher, m, NULL, &plain);
			} else if (!rc) {
				signal_message *m;
				rc = signal_message_deserialize(&m, raw, len, ctx);
				if (!rc) rc = session_cipher_decrypt_signal_message(cipher, m, NULL, &plain);
			}
			if (!rc) {
				print_hex(signal_buffer_data(plain), signal_buffer_len(plain));
				printf("\n");
				continue;
			}
		} else {
			rc = -1;
		}
		printf("error %d\n", rc);
	}
	return 0;
}
