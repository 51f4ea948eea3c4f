/* clawctl: the command-line client for users and admins (placeholder until the
 * apiserver lands; prints its version so packaging and tests have a binary). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "version") == 0) {
    printf("clawctl 0.1.0\n");
    return 0;
  }
  fprintf(stderr, "usage: clawctl version\n");
  return 2;
}
