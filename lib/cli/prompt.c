/* Prompts on the terminal (see prompt.h). The echo is turned off with termios on the
 * /dev/tty descriptor itself, so it works whatever stdin and stdout are redirected to; a
 * signal handler puts the saved settings back, so a Ctrl-C at the prompt does not leave
 * the user's shell without echo. */
#include "cli/prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "core/error.h"

static volatile sig_atomic_t tty_fd = -1;
static struct termios saved;

static void restore_and_reraise(int sig) {
  if (tty_fd >= 0)
    tcsetattr(tty_fd, TCSAFLUSH, &saved);
  signal(sig, SIG_DFL);
  raise(sig);
}

int cp_cli_read_line(FILE *f, char *buf, size_t n) {
  size_t len = 0;
  int c;
  while ((c = getc(f)) != EOF && c != '\n') {
    if (len + 1 >= n) {
      OPENSSL_cleanse(buf, n);
      while ((c = getc(f)) != EOF && c != '\n')
        ;
      return CP_ETOOBIG;
    }
    buf[len++] = (char)c;
  }
  if (c == EOF && len == 0)
    return CP_ECANCELED;
  if (len > 0 && buf[len - 1] == '\r')
    len--;
  buf[len] = '\0';
  return 0;
}

int cp_cli_prompt(const char *prompt, int secret, char *buf, size_t n) {
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return CP_EIO;
  FILE *f = fdopen(fd, "r+");
  if (!f) {
    close(fd);
    return CP_EIO;
  }
  struct sigaction sa, old_int, old_term;
  int echo_off = 0, handlers = 0;
  if (secret && tcgetattr(fd, &saved) == 0) {
    handlers = 1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = restore_and_reraise;
    sigemptyset(&sa.sa_mask);
    tty_fd = fd;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    struct termios t = saved;
    t.c_lflag &= ~(tcflag_t)ECHO;
    t.c_lflag |= ECHONL;
    echo_off = tcsetattr(fd, TCSAFLUSH, &t) == 0;
  }
  fputs(prompt, f);
  fflush(f);
  int rc = cp_cli_read_line(f, buf, n);
  if (handlers) {
    if (echo_off)
      tcsetattr(fd, TCSAFLUSH, &saved);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    tty_fd = -1;
  }
  fclose(f);
  return rc;
}
