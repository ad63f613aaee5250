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
 * Late completion (issue 20): the sweep moves an expired authorisation to
 * EXPIRED (hold released), and the terminal may still commit it (late) or
 * reverse it; so the properties hold with no timing assumption at all.
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
#define V_EXPIRED 5   /* TTL passed unsettled: hold released, still committable */
/* the ATM application's cash record (durable); MOVED is the cash itself */
#define ATM_UNKNOWN 0
#define ATM_MOVED 1
#define ATM_NOT_MOVED 2

byte vstate = V_NONE;
bit ever_committed, ever_reversed;  /* history, for "never both" */
byte atm = ATM_UNKNOWN;
bit dispense_asked;                  /* the agent's command reached the ATM */
bit expired;                         /* the authorisation's TTL has passed */
bit late_committed;                  /* a commit came after the TTL (late completion) */
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
#define OPEN (vstate == V_AUTHORISED || vstate == V_EXPIRED)
#define MOVED (atm == ATM_MOVED)
/* P1: never both committed and reversed; stronger, a settled transfer never
 * changes again (committed stays committed, reversed stays reversed), which
 * implies "never both" since the ledger holds one state */
#define NEVER_BOTH ((!ever_committed || COMMITTED) && (!ever_reversed || vstate == V_REVERSED))
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
					/* late completion: an expired authorisation (swept
					 * or not yet) is committed all the same, as late */
					if
					:: OPEN ->
						late_committed = (expired || vstate == V_EXPIRED);
#ifdef WITNESS_LATE_COMMIT
						/* not a bug: the tests switch it on to show spin
						 * reaches a late commit (without the TTL assumption) */
						assert(!late_committed);
#endif
						vstate = V_COMMITTED; ever_committed = 1; r = OK
					:: vstate == V_COMMITTED -> r = OK
					:: else -> r = REFUSED
					fi
				:: k == REVERSE ->
					if
					:: OPEN -> vstate = V_REVERSED; ever_reversed = 1; r = OK
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

/* The expiry sweep: an authorisation unsettled at its TTL becomes EXPIRED
 * (hold released), never REVERSED; the terminal then commits it late or
 * reverses it. Time is free: the TTL may pass at any moment, before or after
 * the cash moved. The old timing assumption (the TTL outlasts a dispense, an
 * agent restart and a verifier outage: no expiry once the cash moved, no
 * dispense after expiry) is kept for comparison and switched off by
 * -DNO_TTL_ASSUMPTION; the design must verify both ways. */
#ifdef NO_TTL_ASSUMPTION
#define EXPIRY_ALLOWED true
#define DISPENSE_ALLOWED true
#else
#define EXPIRY_ALLOWED (!(MOVED && AUTHORISED))
#define DISPENSE_ALLOWED (!expired)
#endif
active proctype sweeper()
{
end_idle:
	do
	:: atomic { !expired && EXPIRY_ALLOWED -> expired = 1 }
#if defined(BUG_SWEEP_WITHOUT_STATE_GUARD)
	/* the sweep's UPDATE loses "WHERE state = AUTHORIZED" */
	:: atomic { expired && vstate != V_NONE && vstate != V_DECLINED && vstate != V_EXPIRED ->
		vstate = V_EXPIRED; CHECK }
#elif defined(BUG_SWEEP_REVERSES)
	/* as before issue 20: the sweep reverses instead of expiring */
	:: atomic { expired && AUTHORISED -> vstate = V_REVERSED; ever_reversed = 1; CHECK }
#else
	:: atomic { expired && AUTHORISED -> vstate = V_EXPIRED; CHECK }
#endif
	od
}

/* The ATM application: dispenses once when told (under the TTL assumption,
 * only within the TTL), and keeps a durable record of whether the cash moved. */
active proctype atm_app()
{
end_idle:
	atomic {
		atm == ATM_UNKNOWN && dispense_asked ->
		if
		:: DISPENSE_ALLOWED -> atm = ATM_MOVED
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
ltl settles { [] (OPEN -> <> SETTLED) }
