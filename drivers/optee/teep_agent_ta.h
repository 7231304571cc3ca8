/*
 * The interface between the optee driver and a TEEP Agent Trusted
 * Application: command ids and parameter slots (docs/optee-driver.md). A TA
 * author may copy this file; it depends on nothing.
 *
 * Every command carries four parameters:
 *   [0] value inout  in:  a = the Agent session handle (0 when none),
 *                         b = 0
 *                    out: a = the session handle of a new exchange (0 none),
 *                         b = 0, or a negative driver status (tb_status)
 *   [1] memref input  the component id (a CBOR SUIT_Component_Identifier)
 *                     or the TAM's message; none when the command has no
 *                     input
 *   [2] memref output the outgoing TEEP message; size 0 = no message
 *   [3] memref inout  in:  a NUL-terminated string (the app's TAM URI, the
 *                          media type of the TAM's message, or "")
 *                     out: the TAM URI, without a NUL; size 0 = none
 */
#ifndef TEEP_AGENT_TA_H
#define TEEP_AGENT_TA_H

#define TEEP_AGENT_CMD_REQUEST_TA           1
#define TEEP_AGENT_CMD_UNREQUEST_TA         2
#define TEEP_AGENT_CMD_REQUEST_POLICY_CHECK 3
#define TEEP_AGENT_CMD_PROCESS_TEEP_MESSAGE 4
#define TEEP_AGENT_CMD_PROCESS_ERROR        5
#define TEEP_AGENT_CMD_SESSION_CLOSE        6

#define TEEP_AGENT_PARAM_SESSION 0
#define TEEP_AGENT_PARAM_INPUT   1
#define TEEP_AGENT_PARAM_MESSAGE 2
#define TEEP_AGENT_PARAM_URI     3

#endif
