/*
 * Configuration reload on SIGHUP (reload.c, docs/operations.md): the file is
 * read and checked off the loop, on a thread of its own; the loop then
 * applies the new configuration at once, or refuses it whole.
 */
#ifndef TB_RELOAD_H
#define TB_RELOAD_H

struct tb_broker;

/* At the start, with the configuration read and the defences set up:
 * TB_OK or TB_ERR_NOMEM. */
int tb_reload_setup(struct tb_broker *b);
/* SIGHUP (loop thread): start a reload, or, when one is under way, another
 * once it is over (several signals meanwhile make one more reload). */
void tb_reload_request(struct tb_broker *b);
/* Loop thread, when the loop is woken (LWS_CALLBACK_EVENT_WAIT_CANCELLED):
 * a reload whose reading is over is applied or refused. */
void tb_reload_poll(struct tb_broker *b);
/* After the loop: wait for a reading still under way, drop what it read. */
void tb_reload_free(struct tb_broker *b);

#endif
