/*
 * wanlink: the bench's emulated WAN. One TUN device "wan0" in each network
 * namespace given on the command line; every IPv4 packet read from one is
 * routed by destination address to another, over a link of its own per
 * ordered pair of nodes, with a one-way delay, a rate and a drop-tail queue.
 *
 * Why a program of its own: this kernel has no netem qdisc (tc answers
 * "Specified qdisc kind is unknown"), so the delay has to be added in user
 * space. It is C, compiled by the bench with the machine's cc at setup (no
 * binary is committed), because at 200 Mbit/s it handles about 25,000 packets
 * per second on two cores shared with the client and both servers: one read()
 * and one write() per packet, no copies, one ppoll() per batch (the bench
 * measures and prints its CPU).
 *
 * Link model, per packet of `len` bytes (IP header included) on link i->j:
 *   start = max(now, busy_until); busy_until = start + len*8/rate;
 *   leaves at busy_until + delay.
 * A packet that would find more than `limit` bytes waiting for the wire
 * (busy_until - now, in bytes at the link rate) is dropped, as by a router's
 * queue. Due times only grow on a link, so each link is a FIFO.
 *
 *   wanlink -n NETNS_PATH,IPV4 ... -l FROM,TO,DELAY_US,RATE_BPS,LIMIT_BYTES ...
 *           [-t NODE -p PORT ...] [-s SLACK_US]
 *
 * Nodes are numbered from 0 in the order of -n. -t/-p: the trace, below.
 * -s: a packet due within SLACK_US of now leaves now (fewer wake-ups; default 100).
 *
 * Standard input takes one command per line; each gets one line of answer:
 *   stats           "stats" then " FROM,TO,PACKETS,BYTES,DROPS" per link, then
 *                   " noroute=N nobuf=N"
 *   trace PATH      start writing the trace to PATH (truncated): "ok"
 *   untrace         flush and close it: "ok"
 * End of input (the bench exited, however) ends the program, and with it the
 * TUN devices: nothing is left behind but the namespaces.
 *
 * The trace: every TCP segment between node -t (the client) and a server
 * port that is one of the -p ports (the FTP control ports) that carries data
 * or SYN/FIN/RST, one line each:
 *   T_US DIR CLIENT_PORT SERVER_ADDR SERVER_PORT FLAGS SEQ LEN PAYLOAD
 * T_US: microseconds (CLOCK_MONOTONIC) when the client sent it ('>', the
 * moment this program read it from the client's device) or received it ('<',
 * the moment it was written to the client's device). FLAGS: S, F, R or '-'.
 * PAYLOAD: the bytes, with '%', space and anything outside 0x21-0x7e as %XX,
 * or '-' when empty. The argument of a PASS command is replaced by '*'s.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_NODES 8
#define MAX_PORTS 16
#define PKT_BYTES 2048
#define POOL_PKTS 32768
#define RING 16384 /* per link; a power of two */
#define READ_BATCH 64

struct pkt { uint16_t len; unsigned char data[PKT_BYTES]; };

struct link {
	int used;
	uint64_t delay_ns, rate_bps, limit;
	uint64_t busy_until; /* ns: when the wire is free again */
	uint32_t head, count;
	uint32_t idx[RING];
	uint64_t due[RING];
	uint64_t packets, bytes, drops;
};

static int nnodes;
static uint32_t node_addr[MAX_NODES]; /* network byte order */
static int node_fd[MAX_NODES];
static struct link links[MAX_NODES][MAX_NODES];
static struct pkt *pool;
static uint32_t free_list[POOL_PKTS];
static uint32_t nfree;
static uint64_t noroute, nobuf;
static int trace_node = -1;
static uint16_t trace_ports[MAX_PORTS];
static int ntrace_ports;
static FILE *trace;
static uint64_t slack_ns = 100000;

#define die(what) (fprintf(stderr, "wanlink: %s: %s\n", (what), strerror(errno)), exit(1))
#define usage() (fputs("usage: see the comment at the top of wanlink.c\n", stderr), exit(2))

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Create "wan0" inside the namespace at `path`: the device belongs to the namespace the fd was opened in. */
static int open_tun_in(const char *path)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int ns = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || ns < 0)
		die(path);
	if (setns(ns, CLONE_NEWNET) < 0)
		die("setns");
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		die("/dev/net/tun");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	/* IFF_NAPI: a written packet enters the receiving stack through NAPI and GRO,
	 * which costs about 10 % less CPU per packet here; older kernels refuse it. */
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_NAPI;
	strncpy(ifr.ifr_name, "wan0", IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
		if (ioctl(fd, TUNSETIFF, &ifr) < 0)
			die("TUNSETIFF");
	}
	if (setns(self, CLONE_NEWNET) < 0)
		die("setns back");
	close(ns);
	close(self);
	return fd;
}

static int node_of(uint32_t addr)
{
	for (int i = 0; i < nnodes; i++)
		if (node_addr[i] == addr)
			return i;
	return -1;
}

static int traced_port(uint16_t port)
{
	for (int i = 0; i < ntrace_ports; i++)
		if (trace_ports[i] == port)
			return 1;
	return 0;
}

/* One trace line for a TCP segment to or from the client, if it is on a traced port. */
static void trace_packet(const unsigned char *p, unsigned len, char dir, uint64_t t)
{
	if (!trace || len < 20 || p[9] != 6)
		return;
	unsigned ihl = (p[0] & 15u) * 4;
	unsigned total = ((unsigned)p[2] << 8) | p[3];
	if (total > len || ihl + 20 > total)
		return;
	const unsigned char *tcp = p + ihl;
	unsigned doff = (tcp[12] >> 4) * 4u;
	if (ihl + doff > total)
		return;
	uint16_t sport = (uint16_t)((tcp[0] << 8) | tcp[1]), dport = (uint16_t)((tcp[2] << 8) | tcp[3]);
	uint16_t cport = dir == '>' ? sport : dport, sport_srv = dir == '>' ? dport : sport;
	if (!traced_port(sport_srv))
		return;
	unsigned char fl = tcp[13];
	const unsigned char *pay = tcp + doff;
	unsigned plen = total - ihl - doff;
	if (plen == 0 && !(fl & 0x07))
		return; /* a bare ACK */
	uint32_t seq = ((uint32_t)tcp[4] << 24) | ((uint32_t)tcp[5] << 16) | ((uint32_t)tcp[6] << 8) | tcp[7];
	char srv[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, dir == '>' ? p + 16 : p + 12, srv, sizeof srv);
	fprintf(trace, "%llu %c %u %s %u %s %u %u ", (unsigned long long)(t / 1000), dir, cport, srv, sport_srv,
		fl & 0x02 ? "S" : fl & 0x01 ? "F" : fl & 0x04 ? "R" : "-", seq, plen);
	if (plen == 0)
		fputc('-', trace);
	/* Mask a PASS argument: after "PASS " at a line start, until CR or LF. */
	int mask = 0;
	for (unsigned i = 0; i < plen; i++) {
		unsigned char c = pay[i];
		if (dir == '>' && (i == 0 || pay[i - 1] == '\n') && plen - i >= 5 && strncasecmp((const char *)pay + i, "PASS ", 5) == 0) {
			fputs("PASS%20", trace);
			i += 4;
			mask = 1;
			continue;
		}
		if (c == '\r' || c == '\n')
			mask = 0;
		else if (mask)
			c = '*';
		if (c > 0x20 && c < 0x7f && c != '%')
			fputc(c, trace);
		else
			fprintf(trace, "%%%02X", c);
	}
	fputc('\n', trace);
}

static void route(uint32_t id, int from, uint64_t now)
{
	struct pkt *pk = &pool[id];
	const unsigned char *p = pk->data;
	int to = (pk->len >= 20 && (p[0] >> 4) == 4) ? node_of(*(const uint32_t *)(p + 16)) : -1;
	if (to < 0 || to == from || !links[from][to].used) {
		noroute++;
		free_list[nfree++] = id;
		return;
	}
	struct link *l = &links[from][to];
	uint64_t start = l->busy_until > now ? l->busy_until : now;
	uint64_t waiting = l->rate_bps ? (start - now) * l->rate_bps / 8000000000u : 0;
	if (waiting + pk->len > l->limit || l->count == RING) {
		l->drops++;
		free_list[nfree++] = id;
		return;
	}
	if (l->rate_bps)
		l->busy_until = start + (uint64_t)pk->len * 8000000000u / l->rate_bps;
	else
		l->busy_until = start;
	uint32_t slot = (l->head + l->count) & (RING - 1);
	l->idx[slot] = id;
	l->due[slot] = l->busy_until + l->delay_ns;
	l->count++;
	l->packets++;
	l->bytes += pk->len;
	if (from == trace_node)
		trace_packet(p, pk->len, '>', now);
}

static void read_node(int n)
{
	uint64_t now = now_ns();
	for (int k = 0; k < READ_BATCH; k++) {
		if (nfree == 0) {
			/* No buffer: read into a scratch one and drop, or the device would stall. */
			static unsigned char scratch[PKT_BYTES];
			if (read(node_fd[n], scratch, sizeof scratch) < 0)
				return;
			nobuf++;
			continue;
		}
		uint32_t id = free_list[--nfree];
		ssize_t r = read(node_fd[n], pool[id].data, PKT_BYTES);
		if (r <= 0) {
			free_list[nfree++] = id;
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				die("read");
			return;
		}
		pool[id].len = (uint16_t)r;
		route(id, n, now);
	}
}

/* Deliver what is due; return the earliest due time still queued (UINT64_MAX: none). */
static uint64_t deliver(uint64_t now)
{
	uint64_t next = UINT64_MAX;
	for (int i = 0; i < nnodes; i++)
		for (int j = 0; j < nnodes; j++) {
			struct link *l = &links[i][j];
			while (l->count && l->due[l->head] <= now + slack_ns) {
				uint32_t id = l->idx[l->head];
				/* A full device queue or a device going down: the packet is lost, as on a wire. */
				if (write(node_fd[j], pool[id].data, pool[id].len) < 0)
					l->drops++;
				else if (j == trace_node)
					trace_packet(pool[id].data, pool[id].len, '<', now);
				free_list[nfree++] = id;
				l->head = (l->head + 1) & (RING - 1);
				l->count--;
			}
			if (l->count && l->due[l->head] < next)
				next = l->due[l->head];
		}
	return next;
}

static void command(char *line)
{
	line[strcspn(line, "\r\n")] = 0;
	if (strcmp(line, "stats") == 0) {
		printf("stats");
		for (int i = 0; i < nnodes; i++)
			for (int j = 0; j < nnodes; j++)
				if (links[i][j].used)
					printf(" %d,%d,%llu,%llu,%llu", i, j, (unsigned long long)links[i][j].packets,
					       (unsigned long long)links[i][j].bytes, (unsigned long long)links[i][j].drops);
		printf(" noroute=%llu nobuf=%llu\n", (unsigned long long)noroute, (unsigned long long)nobuf);
	} else if (strncmp(line, "trace ", 6) == 0) {
		if (trace)
			fclose(trace);
		trace = fopen(line + 6, "w");
		printf(trace ? "ok\n" : "error %s\n", strerror(errno));
	} else if (strcmp(line, "untrace") == 0) {
		if (trace)
			fclose(trace);
		trace = NULL;
		printf("ok\n");
	} else {
		printf("error unknown command\n");
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int opt;
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt(argc, argv, "n:l:t:p:s:")) != -1) {
		switch (opt) {
		case 'n': {
			char *comma = strrchr(optarg, ',');
			if (!comma || nnodes == MAX_NODES)
				usage();
			*comma = 0;
			struct in_addr a;
			if (inet_pton(AF_INET, comma + 1, &a) != 1)
				usage();
			node_addr[nnodes] = a.s_addr;
			node_fd[nnodes] = open_tun_in(optarg);
			nnodes++;
			break;
		}
		case 'l': {
			int from, to;
			unsigned long long delay_us, rate, limit;
			if (sscanf(optarg, "%d,%d,%llu,%llu,%llu", &from, &to, &delay_us, &rate, &limit) != 5 || from < 0 ||
			    to < 0 || from >= MAX_NODES || to >= MAX_NODES || from == to)
				usage();
			struct link *l = &links[from][to];
			l->used = 1;
			l->delay_ns = delay_us * 1000;
			l->rate_bps = rate;
			l->limit = limit;
			break;
		}
		case 't':
			trace_node = atoi(optarg);
			break;
		case 'p':
			if (ntrace_ports == MAX_PORTS)
				usage();
			trace_ports[ntrace_ports++] = (uint16_t)atoi(optarg);
			break;
		case 's':
			slack_ns = strtoull(optarg, NULL, 10) * 1000;
			break;
		default:
			usage();
		}
	}
	if (nnodes < 2)
		usage();
	for (int i = 0; i < MAX_NODES; i++)
		for (int j = 0; j < MAX_NODES; j++)
			if (links[i][j].used && (i >= nnodes || j >= nnodes))
				usage();
	/* Untouched pages cost nothing: the pool's RSS is what is in flight. */
	pool = malloc(sizeof(struct pkt) * POOL_PKTS);
	if (!pool)
		die("malloc");
	for (uint32_t i = 0; i < POOL_PKTS; i++)
		free_list[nfree++] = POOL_PKTS - 1 - i;
	/* Wake-ups as asked: the default 50 us timer slack would add to every delay. */
	prctl(PR_SET_TIMERSLACK, 1000UL);
	printf("ready\n");
	fflush(stdout);

	struct pollfd fds[MAX_NODES + 1];
	for (int i = 0; i < nnodes; i++) {
		fds[i].fd = node_fd[i];
		fds[i].events = POLLIN;
	}
	fds[nnodes].fd = 0;
	fds[nnodes].events = POLLIN;
	char cmd[4096];
	size_t cmdlen = 0;
	for (;;) {
		uint64_t now = now_ns();
		uint64_t next = deliver(now);
		struct timespec ts, *tp = NULL;
		if (next != UINT64_MAX) {
			uint64_t wait = next > now ? next - now : 0;
			ts.tv_sec = (time_t)(wait / 1000000000u);
			ts.tv_nsec = (long)(wait % 1000000000u);
			tp = &ts;
		}
		int r = ppoll(fds, (nfds_t)nnodes + 1, tp, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("ppoll");
		}
		if (r == 0)
			continue;
		for (int i = 0; i < nnodes; i++)
			if (fds[i].revents & POLLIN)
				read_node(i);
		if (fds[nnodes].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(0, cmd + cmdlen, sizeof cmd - 1 - cmdlen);
			if (n <= 0)
				break; /* the bench is gone */
			cmdlen += (size_t)n;
			cmd[cmdlen] = 0;
			char *nl;
			while ((nl = strchr(cmd, '\n')) != NULL) {
				*nl = 0;
				command(cmd);
				cmdlen -= (size_t)(nl + 1 - cmd);
				memmove(cmd, nl + 1, cmdlen + 1);
			}
			if (cmdlen == sizeof cmd - 1)
				cmdlen = 0; /* a line that long is no command */
		}
	}
	if (trace)
		fclose(trace);
	return 0;
}
