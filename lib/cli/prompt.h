/* Reading secrets and answers from the user: a prompt on the controlling terminal with
 * echo off (termios), or one line from a pipe (--password-stdin, --token-stdin).
 * Buffers are the caller's, bounded; the caller clears them (OPENSSL_cleanse) after use.
 */
#ifndef CP_CLI_PROMPT_H
#define CP_CLI_PROMPT_H

#include <stddef.h>
#include <stdio.h>

/* Writes prompt to /dev/tty, reads one line from it into buf (n bytes, no newline) with
 * echo off when secret, and restores the terminal's settings, also when interrupted by
 * SIGINT/SIGTERM (then the signal is raised again). Returns 0, CP_EIO when there is no
 * terminal, CP_ETOOBIG when the line does not fit (buf is cleared), CP_ECANCELED on EOF. */
int cp_cli_prompt(const char *prompt, int secret, char *buf, size_t n);

/* Reads one line from f into buf (n bytes): without its "\n" or "\r\n". Returns 0,
 * CP_ECANCELED on EOF before any byte, CP_ETOOBIG when it does not fit (buf cleared). */
int cp_cli_read_line(FILE *f, char *buf, size_t n);

#endif
