/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate issuance at the MFP, exactly once (issues 14 and 20): two
 * terminals, each with its own card holder, ask the centre at the same
 * moment. Terminal 1 journals the collect's intent, then the request's, and
 * requests the document while the fee goes into escrow (either may end
 * first); it prints only when both are done, then ConfirmPrinted and keep
 * the fee, or ReportPrintFailure and refund it (first wins at the centre).
 * A payment that ends unpaid (the device gives the money back) waits for
 * the request's answer and voids it (ReportPrintFailure CANCELLED); a lost
 * answer or an unanswered void is left to recovery (host/flows/issue.py,
 * issue_paid.py, issue_effects.py; issue_settle.py recovers).
 *
 * The centre renders through the municipality's print-order lock and render
 * queue (the Yokohama incident: a timeout under load released only the
 * lock). Faults: terminal and centre crashes at every step, lost, repeated
 * and late gRPC calls retried with the same key, a municipal timeout, a
 * print timeout and a jammed printer; MAXCRASH / MAXFAULT bound them.
 *
 * Steps (JOURNAL(...)) come from host/journal/steps.py through steps.pml.
 */
#include "steps.pml"

#ifndef MAXCRASH
#define MAXCRASH 1
#endif
#ifndef MAXFAULT
#define MAXFAULT 1
#endif

mtype = { REQ, CONFIRM, FAILURE, OK, REFUSED };

/* centre request state per terminal t (its request), durable */
#define C_OPEN 0
#define C_ISSUED 1
#define C_CHARGED 2
#define C_REFUNDED 3

byte cstate[3];
byte doc[3];          /* whose data the document issued for request t carries */
byte prints[3];       /* documents the printer of terminal t put out */
byte printed_for[3];  /* the holder the last printed document names */
bit paid[3], taken[3], given_back[3];  /* the payment device, durable */
bit job[3], job_done[3], job_failed[3];
bit print_lock;
chan render_q = [MAXFAULT + 2] of { byte };  /* the municipality's render queue */
bit lost[3];  /* a call of terminal t was lost: its deadline will pass */
byte crashes, faults;

typedef Journal { bit s[N_ISSUANCE_STEPS] };
Journal jn[3];
bit j_printed[3];

chan req[3] = [1] of { mtype };
chan rep[3] = [1] of { mtype, mtype };

/* "at most one document per request, only to the holder who asked" */
#define ONE_DOC(t) (prints[t] <= 1)
#define HOLDER_ONLY(t) (prints[t] == 0 || printed_for[t] == t)
/* "a document voided when unpaid is never printed" (the collect ended unpaid) */
#define UNPAID_NOT_PRINTED(t) (prints[t] == 0 || paid[t] || !jn[t].s[ISSUE_COLLECT_OUTCOME])
/* "charged iff printed, else refunded": checked when terminal t is done */
#define VALID_PRINT(t) (prints[t] > 0 && cstate[t] != C_REFUNDED)
#define SETTLED_OK(t) ( \
	cstate[t] != C_ISSUED && \
	(cstate[t] == C_CHARGED) == VALID_PRINT(t) && \
	(cstate[t] == C_CHARGED) == taken[t] && \
	(!paid[t] || taken[t] != given_back[t]))

/* Terminal 1 crashes; terminal 2 is the second applicant at the same moment. */
#define CAN_CRASH (t == 1 && crashes < MAXCRASH)
#define CRASH \
	if \
	:: CAN_CRASH -> crashes++; goto restart \
	:: true \
	fi
#define JOURNAL(x) jn[t].s[x] = 1; CRASH
#define DONE(x) (jn[t].s[x] == 1)

#define CALL(kind) \
	atomic { lost[t] = 0; req[t]!kind }; \
	do \
	:: rep[t]?k,r -> if :: k == kind -> break :: else -> skip fi \
	:: atomic { lost[t] && empty(rep[t]) -> lost[t] = 0; req[t]!kind }  /* the deadline passed */ \
	:: CAN_CRASH -> crashes++; goto restart \
	od; \
	CRASH

/* The centre's handler for terminal t's connection (both run at once). */
proctype centre(byte t)
{
	mtype k, r;
	byte d;
end_idle:
	do
	:: req[t]?k ->
		if
		:: faults < MAXFAULT -> faults++; lost[t] = 1; goto end_idle  /* lost */
		:: k == REQ && cstate[t] != C_OPEN -> r = OK  /* a repeat: the first answer */
		:: k == REQ && cstate[t] == C_OPEN ->
			atomic { print_lock == 0 -> print_lock = 1 }
			render_q!t;
			if
			:: faults < MAXFAULT ->  /* the municipality times out under load */
				faults++;
#ifdef BUG_RELEASE_ONLY_PRINT_LOCK
				print_lock = 0;
#else
				atomic { do :: render_q?d :: empty(render_q) -> break od; print_lock = 0 }
#endif
				lost[t] = 1;
				goto end_idle  /* no answer: the terminal retries with its key */
			:: render_q?d ->
				atomic { doc[t] = d; cstate[t] = C_ISSUED; print_lock = 0 }
				r = OK
			fi
		:: k == CONFIRM ->
			atomic {
				if
				:: cstate[t] == C_ISSUED -> cstate[t] = C_CHARGED; r = OK
				:: cstate[t] == C_CHARGED -> r = OK
				:: else -> r = REFUSED
				fi
			}
		:: k == FAILURE ->
			atomic {
				if
				:: cstate[t] == C_ISSUED || cstate[t] == C_OPEN -> cstate[t] = C_REFUNDED; r = OK
				:: cstate[t] == C_REFUNDED -> r = OK
				:: else -> r = REFUSED
				fi
			}
		fi;
		if
		:: faults < MAXFAULT -> faults++; lost[t] = 1  /* the answer is lost */
		:: atomic { nfull(rep[t]) -> rep[t]!k,r }
		:: full(rep[t]) -> lost[t] = 1
		fi
	:: atomic { crashes < MAXCRASH && print_lock == 0 ->  /* the centre restarts */
		crashes++; lost[t] = 1;
		do :: req[t]?k :: empty(req[t]) -> break od;
		do :: rep[t]?k,r :: empty(rep[t]) -> break od }
	od
}

/* Terminal t's printer: prints a sent job once, or jams. */
proctype printer(byte t)
{
end_idle:
	do
	:: atomic { job[t] ->
		if
		:: prints[t]++; printed_for[t] = doc[t]; job_done[t] = 1
		:: job_failed[t] = 1  /* paper jam, cover open */
		fi;
		job[t] = 0;
		assert(ONE_DOC(t));
		assert(HOLDER_ONLY(t));
		assert(UNPAID_NOT_PRINTED(t)) }
	od
}

proctype terminal(byte t)
{
	mtype k, r;
	bit printed;
	goto start;
restart:
recover:  /* also without a crash: a lost answer or an unanswered void is recovery's */
	atomic { do :: rep[t]?k,r :: empty(rep[t]) -> break od }
	/* recover_issuances: the centre side first, then the money by the same rule */
	if
	:: !DONE(ISSUE_COLLECT_INTENT) -> goto finish
	:: DONE(ISSUE_REQUEST_INTENT) && !DONE(ISSUE_CONFIRM_OUTCOME) && !DONE(ISSUE_FAILURE_OUTCOME)
	:: else -> goto money
	fi;
	if
	:: DONE(ISSUE_PRINT_OUTCOME) && j_printed[t] -> goto confirm
#ifdef BUG_REPRINT_ON_RECOVERY
	:: DONE(ISSUE_PRINT_INTENT) && !DONE(ISSUE_PRINT_OUTCOME) -> goto print
#endif
	:: else
	fi;
	if
	:: !DONE(ISSUE_REQUEST_OUTCOME) ->  /* learn the request id with the same key */
		CALL(REQ);
		JOURNAL(ISSUE_REQUEST_OUTCOME)
	:: else
	fi;
	goto failure;

start:
	JOURNAL(ISSUE_PROVE_INTENT);
	JOURNAL(ISSUE_PROVE_OUTCOME);
	/* both intents before either starts; the request runs while the fee goes in */
	JOURNAL(ISSUE_COLLECT_INTENT);
	JOURNAL(ISSUE_REQUEST_INTENT);
	atomic { lost[t] = 0; req[t]!REQ };
	do
	:: !DONE(ISSUE_COLLECT_OUTCOME) ->
		if
		:: paid[t] = 1
		:: skip  /* timed out, cancelled, failed: the device gives the money back */
		fi;
#ifdef WITNESS_VOID_AFTER_ANSWER
		assert(!(DONE(ISSUE_REQUEST_OUTCOME) && !paid[t]));  /* answered, then unpaid */
#endif
		JOURNAL(ISSUE_COLLECT_OUTCOME);
		if
		:: !paid[t] -> goto void
		:: else
		fi
	:: atomic { !DONE(ISSUE_REQUEST_OUTCOME) && nempty(rep[t]) -> rep[t]?k,r };
		JOURNAL(ISSUE_REQUEST_OUTCOME)  /* answered before the fee is in, or after */
	:: atomic { !DONE(ISSUE_REQUEST_OUTCOME) && lost[t] && empty(rep[t]) ->
		lost[t] = 0; req[t]!REQ }  /* the deadline passed: retried with the same key */
	:: DONE(ISSUE_COLLECT_OUTCOME) && !DONE(ISSUE_REQUEST_OUTCOME) && lost[t] && empty(rep[t]) ->
		goto stopped_paid  /* the request failed after the fee was in */
	:: DONE(ISSUE_COLLECT_OUTCOME) && DONE(ISSUE_REQUEST_OUTCOME) -> break  /* both done */
	:: DONE(ISSUE_COLLECT_OUTCOME) && DONE(ISSUE_REQUEST_OUTCOME) ->
		goto stopped_paid  /* the resident cancels before the print */
	:: CAN_CRASH -> crashes++; goto restart
	od;
print:
	JOURNAL(ISSUE_PRINT_INTENT);
	atomic { job_done[t] = 0; job_failed[t] = 0; job[t] = 1 }
	do
	:: job_done[t] -> printed = 1; break
	:: job_failed[t] -> printed = 0; break
	:: atomic { job[t] -> job[t] = 0 }  /* print timeout: the job is cancelled */
#ifdef BUG_CHARGE_ON_TIMEOUT
		printed = 1; break
#else
		printed = 0; break
#endif
	:: CAN_CRASH -> crashes++; goto restart
	od;
	atomic { j_printed[t] = printed; jn[t].s[ISSUE_PRINT_OUTCOME] = 1 }
	CRASH;
	if
	:: printed -> goto confirm
	:: else -> goto failure
	fi;
void:
	/* the fee never came: wait for the request's answer, then void what it issued */
	do
	:: DONE(ISSUE_REQUEST_OUTCOME) -> break
	:: atomic { !DONE(ISSUE_REQUEST_OUTCOME) && nempty(rep[t]) -> rep[t]?k,r };
		JOURNAL(ISSUE_REQUEST_OUTCOME)
	:: atomic { !DONE(ISSUE_REQUEST_OUTCOME) && lost[t] && empty(rep[t]) ->
		lost[t] = 0; req[t]!REQ }  /* retried */
	:: !DONE(ISSUE_REQUEST_OUTCOME) && lost[t] && empty(rep[t]) ->
		goto recover  /* no answer: recovery asks with the key */
	:: CAN_CRASH -> crashes++; goto restart
	od;
#ifdef BUG_PRINT_UNPAID
	goto print;
#endif
#ifdef BUG_SKIP_VOID
	goto finish;
#endif
	goto failure;
stopped_paid:
	/* stopped short with the fee in escrow, nothing printing (_after_release):
	 * the fee goes back at once; the request is recovery's (same key) */
	JOURNAL(ISSUE_REFUND_INTENT);
	given_back[t] = 1;
	JOURNAL(ISSUE_REFUND_OUTCOME);
	goto recover;
confirm:
	JOURNAL(ISSUE_CONFIRM_INTENT);
	CALL(CONFIRM);
	JOURNAL(ISSUE_CONFIRM_OUTCOME);
take:
	JOURNAL(ISSUE_TAKE_INTENT);
	taken[t] = 1;
	JOURNAL(ISSUE_TAKE_OUTCOME);
	goto finish;
failure:
	/* not printed, or unpaid (ReportPrintFailure CANCELLED: the void) */
	JOURNAL(ISSUE_FAILURE_INTENT);
	CALL(FAILURE);
	JOURNAL(ISSUE_FAILURE_OUTCOME);
money:
	/* a money step begun is repeated; nothing held -> nothing to give back */
	if
	:: DONE(ISSUE_TAKE_OUTCOME) || DONE(ISSUE_REFUND_OUTCOME) -> goto finish
	:: else
	fi;
	if
	:: DONE(ISSUE_TAKE_INTENT) -> goto take
	:: DONE(ISSUE_REFUND_INTENT) -> goto refund
	:: else
	fi;
	if
	:: !paid[t] -> goto finish  /* the device returned what was inserted */
	:: DONE(ISSUE_CONFIRM_OUTCOME) -> goto take  /* charged: printed */
	:: else
	fi;
refund:
	JOURNAL(ISSUE_REFUND_INTENT);
	given_back[t] = 1;
	JOURNAL(ISSUE_REFUND_OUTCOME);
finish:
	/* a job that was never cancelled may still print: wait for the printer */
	(job[t] == 0);
	assert(UNPAID_NOT_PRINTED(t));
	assert(SETTLED_OK(t))
}

/* The second applicant, at another store at the same moment: it asks and
 * prints; its payment and journal are terminal 1's, so they are left out. */
proctype applicant(byte t)
{
	mtype k, r;
	CALL(REQ);
	atomic { job_done[t] = 0; job_failed[t] = 0; job[t] = 1 }
	do
	:: job_done[t] || job_failed[t] -> break
	:: atomic { job[t] -> job[t] = 0 }; break  /* print timeout */
	od;
restart:
	(job[t] == 0)
}

init
{
	atomic {
		run centre(1); run centre(2);
		run printer(1); run printer(2);
		run terminal(1); run applicant(2)
	}
}

ltl settles { [] ((cstate[1] == C_ISSUED) -> <> (cstate[1] == C_CHARGED || cstate[1] == C_REFUNDED)) }
