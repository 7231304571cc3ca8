/*
 * notify_reader SOCKET OUT SECONDS: a service manager's end of sd_notify(3)
 * for the tests. Binds a unix datagram socket at SOCKET and appends each
 * message's lines to OUT (flushed at once); exits 0 after a message with
 * STOPPING=1, 1 after SECONDS without one.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa;
	char buf[4097];
	FILE *out;
	int fd;

	if (argc != 4 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: notify_reader SOCKET OUT SECONDS\n");
		return 2;
	}
	time_t end = time(NULL) + atoi(argv[3]);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror(argv[1]);
		return 2;
	}
	out = fopen(argv[2], "a");
	if (!out) {
		perror(argv[2]);
		return 2;
	}
	fprintf(out, "listening\n");
	fflush(out);
	while (time(NULL) < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 200) <= 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			continue;
		buf[n] = 0;
		fprintf(out, "%s\n", buf);
		fflush(out);
		if (strstr(buf, "STOPPING=1"))
			return 0;
	}
	return 1;
}
