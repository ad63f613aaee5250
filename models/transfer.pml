/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transfer, exactly once (issue 20): the agent's write-ahead journal, the
 * verifier's authorise / commit / reverse / expiry sweep with idempotency
 * keys, and the ATM application's cash record and the recovery question.
 *
 * Faults: the agent and the verifier crash at every step (a crash point
 * follows every journal write and every answer; the verifier loses what is in
 * flight and keeps its ledger, which changes in one transaction); gRPC calls
 * are lost (request or answer), duplicated, delivered late (out of order) and
 * retried with the same idempotency key. MAXCRASH and MAXFAULT bound them, so
 * the faults stop and the liveness property is checked under weak fairness.
 *
 * Steps (JOURNAL(...)) come from host/journal/steps.py through the generated
 * steps.pml; tests/models checks both lists agree. Seeded bugs (#ifdef BUG_*)
 * are switched on by myna_edge.models, which writes one copy per bug.
 */
#include "steps.pml"

#ifndef MAXCRASH
#define MAXCRASH 2
#endif
#ifndef MAXFAULT
#define MAXFAULT 2
#endif

mtype = { AUTH, COMMIT, REVERSE, OK, REFUSED };

/* verifier ledger: one transfer (durable) */
#define V_NONE 0
#define V_AUTHORISED 1
#define V_COMMITTED 2
#define V_REVERSED 3
#define V_DECLINED 4
/* the ATM application's cash record (durable); MOVED is the cash itself */
#define ATM_UNKNOWN 0
#define ATM_MOVED 1
#define ATM_NOT_MOVED 2

byte vstate = V_NONE;
bit ever_committed, ever_reversed;  /* history, for "never both" */
byte atm = ATM_UNKNOWN;
bit dispense_asked;                  /* the agent's command reached the ATM */
bit expired;                         /* the authorisation's TTL has passed */
byte crashes, faults;

/* the agent's journal (durable): one bit per step, plus the outcomes' data */
bit journal[N_TRANSFER_STEPS];
mtype j_auth, j_settle;
bit j_commit;                        /* the decision: 1 commit, 0 reverse */

chan req = [2] of { mtype };
chan rep = [2] of { mtype, mtype };

#define COMMITTED (vstate == V_COMMITTED)
#define SETTLED (vstate == V_COMMITTED || vstate == V_REVERSED)
#define AUTHORISED (vstate == V_AUTHORISED)
#define MOVED (atm == ATM_MOVED)
/* P1: never both committed and reversed */
#define NEVER_BOTH (!(ever_committed && ever_reversed))
/* P2: committed only if the cash moved, reversed only if it did not */
#define IFF_MOVED ((!ever_committed || MOVED) && (!ever_reversed || !MOVED))
#define CHECK assert(NEVER_BOTH); assert(IFF_MOVED)

/* A crash point: the process may die here (volatile state is lost). */
#define CRASH \
	if \
	:: crashes < MAXCRASH -> crashes++; goto restart \
	:: true \
	fi
#define JOURNAL(s) journal[s] = 1; CRASH
#define DONE(s) (journal[s] == 1)

/* One idempotent call: send, wait for its answer, retry with the same key when
 * none comes (a stale answer to an earlier call is dropped). */
#define CALL(kind) \
	req!kind; \
	do \
	:: rep?k,r -> if :: k == kind -> break :: else -> skip fi \
	:: atomic { empty(rep) && nfull(req) -> req!kind } \
	:: crashes < MAXCRASH -> crashes++; goto restart \
	od; \
	CRASH

/* The verifier: each request is one transaction on the ledger, keyed. */
active proctype verifier()
{
	mtype k, r;
end_idle:
	do
	:: req?k ->
		if
		:: faults < MAXFAULT -> faults++  /* the request is lost */
		:: true ->
			atomic {
				if
				:: k == AUTH ->
					if
					:: vstate == V_NONE -> /* first use of the key */
						if
						:: vstate = V_AUTHORISED
						:: vstate = V_DECLINED
						fi
					:: else -> skip  /* a repeat: the first answer */
					fi;
					r = (vstate == V_DECLINED -> REFUSED : OK)
				:: k == COMMIT ->
					if
					:: vstate == V_AUTHORISED && !expired ->
						vstate = V_COMMITTED; ever_committed = 1; r = OK
					:: vstate == V_AUTHORISED && expired ->
						vstate = V_REVERSED; ever_reversed = 1; r = REFUSED
					:: vstate == V_COMMITTED -> r = OK
					:: else -> r = REFUSED
					fi
				:: k == REVERSE ->
					if
					:: vstate == V_AUTHORISED -> vstate = V_REVERSED; ever_reversed = 1; r = OK
					:: vstate == V_REVERSED -> r = OK
					:: else -> r = REFUSED
					fi
				fi;
				CHECK
			}
			if
			:: faults < MAXFAULT -> faults++  /* the answer is lost */
			:: atomic { faults < MAXFAULT && nfull(req) -> faults++; req!k }  /* delivered again, later */
			:: atomic { nfull(rep) -> rep!k,r }
			:: full(rep) -> skip
			fi
		fi
	:: crashes < MAXCRASH ->  /* the verifier dies: what was in flight is gone */
		atomic {
			crashes++;
			do :: req?k :: empty(req) -> break od;
			do :: rep?k,r :: empty(rep) -> break od
		}
	od
}

/* The expiry sweep. Timing assumption (docs/internals/model-check.md): the
 * TTL is far longer than a dispense and an agent restart, so an authorisation
 * whose cash moved is committed before it expires, and the ATM never
 * dispenses for an expired one. Without it (-DNO_TTL_ASSUMPTION) spin shows
 * the reversal of a transfer whose cash moved. */
#ifdef NO_TTL_ASSUMPTION
#define EXPIRY_ALLOWED true
#else
#define EXPIRY_ALLOWED (!(MOVED && AUTHORISED))
#endif
active proctype sweeper()
{
end_idle:
	do
	:: atomic { !expired && EXPIRY_ALLOWED -> expired = 1 }
#ifdef BUG_SWEEP_WITHOUT_STATE_GUARD
	:: atomic { expired && vstate != V_NONE && vstate != V_REVERSED && vstate != V_DECLINED ->
		vstate = V_REVERSED; ever_reversed = 1; CHECK }
#else
	:: atomic { expired && AUTHORISED -> vstate = V_REVERSED; ever_reversed = 1; CHECK }
#endif
	od
}

/* The ATM application: dispenses once when told (within the TTL), and keeps
 * a durable record of whether the cash moved. */
active proctype atm_app()
{
end_idle:
	atomic {
		atm == ATM_UNKNOWN && dispense_asked ->
		if
		:: !expired -> atm = ATM_MOVED
		:: atm = ATM_NOT_MOVED  /* the dispenser failed, or the customer left */
		fi;
		CHECK
	}
}

active proctype agent()
{
	mtype k, r;
	goto start;
restart:
	/* recovery: a new connection (stale answers are gone), then the journal */
	atomic { do :: rep?k,r :: empty(rep) -> break od }
	if
	:: !DONE(TRANSFER_AUTHORIZE_INTENT) -> goto finish  /* nothing was asked */
	:: DONE(TRANSFER_AUTHORIZE_INTENT) && !DONE(TRANSFER_AUTHORIZE_OUTCOME) ->
		goto authorize  /* repeat with the same key to learn the answer */
	:: else
	fi;
	if
	:: j_auth == REFUSED -> goto finish
	:: else
	fi;
	if
	:: !DONE(TRANSFER_DECISION_DECISION) ->
#ifdef BUG_DECIDE_WITHOUT_ASKING
		/* "an unfinished authorisation is reversed" without asking the ATM */
		journal[TRANSFER_DECISION_DECISION] = 1; j_commit = 0;
#else
		/* the recovery question: did the cash move? The ATM application
		 * closes an open attempt (it will not dispense now) and answers
		 * from its record. */
		atomic { if :: atm == ATM_UNKNOWN -> atm = ATM_NOT_MOVED :: else fi; CHECK }
		atomic { journal[TRANSFER_DECISION_DECISION] = 1; j_commit = MOVED }
#endif
		CRASH
	:: else
	fi;
	if
	:: j_commit && DONE(TRANSFER_COMMIT_OUTCOME) -> goto receipt
	:: j_commit && !DONE(TRANSFER_COMMIT_OUTCOME) -> goto settle  /* same key again */
	:: !j_commit && DONE(TRANSFER_REVERSE_OUTCOME) -> goto finish
	:: !j_commit && !DONE(TRANSFER_REVERSE_OUTCOME) -> goto settle
	fi;

start:
	JOURNAL(TRANSFER_AUTHORIZE_INTENT);
authorize:
	CALL(AUTH);
	atomic { j_auth = r; journal[TRANSFER_AUTHORIZE_OUTCOME] = 1 }
	CRASH;
	if
	:: j_auth == REFUSED -> goto finish
	:: else
	fi;
	/* the ATM application dispenses and answers */
	dispense_asked = 1;
	do
	:: atm != ATM_UNKNOWN -> break
	:: crashes < MAXCRASH -> crashes++; goto restart
	od;
	atomic { j_commit = MOVED; journal[TRANSFER_DECISION_DECISION] = 1 }
	CRASH;
settle:
	if
	:: j_commit ->
#ifdef BUG_OUTCOME_BEFORE_EFFECT
		JOURNAL(TRANSFER_COMMIT_INTENT);
		atomic { j_settle = OK; journal[TRANSFER_COMMIT_OUTCOME] = 1 }
		CRASH;
		CALL(COMMIT);
#else
		JOURNAL(TRANSFER_COMMIT_INTENT);
		CALL(COMMIT);
		atomic { j_settle = r; journal[TRANSFER_COMMIT_OUTCOME] = 1 }
		CRASH;
#endif
	:: else ->
		JOURNAL(TRANSFER_REVERSE_INTENT);
		CALL(REVERSE);
		atomic { j_settle = r; journal[TRANSFER_REVERSE_OUTCOME] = 1 }
		CRASH;
		goto finish
	fi;
receipt:
	/* a receipt whose print has no outcome is printed again, marked 再発行 */
	JOURNAL(RECEIPT_PRINT_INTENT);
	JOURNAL(RECEIPT_PRINT_OUTCOME);
finish:
	skip
}

/* The same properties for spin's LTL checker (-N NAME). */
ltl never_both { [] NEVER_BOTH }
ltl committed_iff_moved { [] IFF_MOVED }
ltl settles { [] (AUTHORISED -> <> SETTLED) }
