/* Token usage as model APIs report it, read from response bodies and stream events.
 *
 * OpenAI-style bodies and the final stream chunk (with stream_options.include_usage)
 * carry {"usage":{"prompt_tokens":P,"completion_tokens":C}}; embeddings only
 * prompt_tokens. Anthropic-style bodies carry {"usage":{"input_tokens":P,
 * "output_tokens":C}} (cache reads and writes count as input), and their streams split it:
 * message_start has message.usage (input), each message_delta a cumulative usage
 * (output). Merging takes the maximum of each field seen, which is right for all of these:
 * totals only grow within one response. Pure functions, any thread.
 */
#ifndef CP_MODELPROXY_USAGE_H
#define CP_MODELPROXY_USAGE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Largest token count believed; anything above is ignored as nonsense. */
#define CP_MP_USAGE_MAX_TOKENS 1000000000000LL

typedef struct cp_mp_usage_s {
  int64_t prompt_tokens;
  int64_t completion_tokens;
  int seen; /* 1 once any usage object was found */
} cp_mp_usage_t;

/* Merges the usage of one parsed object (a response body or one stream event) into u: its
 * "usage" member, or "message"."usage" (Anthropic message_start). Returns 1 if a usage
 * object with at least one token count was found, else 0 (u unchanged). */
int cp_mp_usage_merge_json(cp_mp_usage_t *u, const cJSON *obj);

/* Same from len bytes of JSON text. Text that does not mention "usage" is not parsed at
 * all (the cheap path for the many content chunks of a stream). Returns 1 or 0 as above;
 * malformed JSON is 0. */
int cp_mp_usage_merge_text(cp_mp_usage_t *u, const char *text, size_t len);

/* For a response body too large to keep whole: finds the last "usage" key in the tail
 * bytes kept of it and parses the object that follows. Returns 1 or 0 as above. */
int cp_mp_usage_merge_tail(cp_mp_usage_t *u, const char *tail, size_t len);

#endif
