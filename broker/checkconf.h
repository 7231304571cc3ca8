/*
 * teep-brokerd --check-config (checkconf.c): what the start would do, short
 * of opening the network.
 */
#ifndef TB_CHECKCONF_H
#define TB_CHECKCONF_H

struct tb_broker;

enum tb_check_result {
	TB_CHECK_OK = 0,
	TB_CHECK_CONFIG, /* a file, directory, user or key of the configuration */
	TB_CHECK_DRIVER  /* only drivers or plugins failed to load or initialise */
};

/*
 * With b->conf read from b->conf_path: drop privileges as the start would
 * ([broker] user, privdrop.h), check the directories of pid_file, port_file
 * and state_dir, load the TAMs' ca_file and trust_anchor and the [app-tam]
 * keys, and load and initialise every driver and plugin in turn, then tear
 * them down. Every problem is written to standard error as "FILE:LINE:
 * message" (the line of the key, or of the driver's or plugin's section).
 *
 * Side effects: those of the drivers' and plugins' init(), which the start
 * has too (the sim driver creates its state_dir and generates its Agent key
 * there if it has none), and, as root with `user` set, the creation and
 * chown of state_dir.
 */
enum tb_check_result tb_check_config(struct tb_broker *b);

#endif
