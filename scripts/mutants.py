#!/usr/bin/env python3
"""Deliberate protocol mutations, each of which must turn a named test red.

scripts/mutants runs this (arguments: run only the mutations whose name contains one of
them). It copies the workspace (as checked out, without target/ and .local/) into
target/mutants-workspace and writes every mutation into the copy at once as a switch (a
mutation schema): the marked code becomes `if crate::__mutant::on(K) { replacement }
else { original }`, and the process runs mutation K when MQLESS_MUTANT=K (none when it is
unset). So one build serves them all; before, each mutation rebuilt the runtime and the
crates above it (~10 s each). Each site must match exactly once, so a refactor cannot
silently retire a mutation. For each mutation it runs the test that should catch it (its
test binary, two mutations at a time), and reports KILLED or SURVIVED; it exits 1 if any
survived. DynamoDB mutations run only when
MQLESS_TEST_DYNAMODB_ENDPOINT is set (scripts/test and scripts/local-aws set it).
"""
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time

# (name, invariant it breaks, file, site, replacement, test, needs DynamoDB Local).
# The site is the exact text, once in the file, with the mutated part between « and »: an
# expression (replaced by the replacement, an expression of the same type) or, when it
# ends with `;`, whole statements (replaced by the replacement's statements). The test is
# a target of the workspace (`--test NAME`, see `selection`), or a package's `--lib`
# tests given as `-p <package> --lib`.
MUTATIONS = [
    ("commit ignores the version (the record's guard, as the memory store applies it)",
     "2: exactly once, under zombies and expired leases",
     "mqless-runtime/src/store/record.rs",
     "(Guard::Version(version), Some(r)) => «r.version == version»,",
     "true",
     ["--test", "fault_scenarios"], False),
    ("acquire ignores a live lease (the record's rule, both stores)",
     "4: one message of an actor at a time",
     "mqless-runtime/src/store/record.rs",
     "if «current.lease_expires_at > now» {",
     "false",
     ["--test", "store_conformance", "the_memory_store_keeps_the_contract"], False),
    ("the recheck after release is skipped",
     "1: an acknowledged message is processed (lost wake-up)",
     "mqless-runtime/src/mailbox/mod.rs",
     "if «!head.first().is_none_or(|item| waiting(item, now))» {",
     "false",
     ["--test", "embedded_invariants", "a_message_enqueued_while_the_lease_is_released_is_not_lost"], False),
    ("a message consumed by the previous batch is run again",
     "2: exactly once (crash between commit and cleanup)",
     "mqless-runtime/src/mailbox/lease/mod.rs",
     "if «self.book.consumed.contains(&item.id)» {\n                batch.consumed_before(item.id);",
     "false",
     ["--test", "embedded_invariants", "a_crash_between_commit_and_cleanup"], False),
    ("the consumed ids' distances are read without their sign",
     "2: exactly once (a crash between commit and cleanup, after a batch of several messages)",
     "mqless-runtime/src/mailbox/consumed_ids.rs",
     ".checked_add(«unzigzag(take_varint(&mut bytes)?)»)",
     "take_varint(&mut bytes)? as i128",
     ["--test", "fault_scenarios", "invariants_hold_under_injected_faults_on_the_memory_store"], False),
    ("a topic's fan-out stops after its first step",
     "1: an acknowledged message is processed (a published event reaches every subscriber)",
     "mqless-runtime/src/topics.rs",
     "let next = «page.next».map(|after| {",
     "page.next.filter(|_| false)",
     ["--test", "events_faults"], False),
    ("a continued message does not end its batch (a fan-out step runs after the next event's)",
     "3: in order per sender (a topic's events reach each subscriber in publish order)",
     "mqless-runtime/src/mailbox/batch/budget.rs",
     "        if «self.continued.is_some()» {\n            // The continued message is next again: it runs in the next batch.",
     "false",
     ["--test", "events_faults"], False),
    ("the idempotency-key check is skipped",
     "2: exactly once (a resent message)",
     "mqless-runtime/src/mailbox/batch/mod.rs",
     "if «self.next.recent_keys.contains(key)» {",
     "false",
     ["--test", "fault_scenarios"], False),
    ("poison detection is off",
     "7: no actor is wedged (a message that kills its process)",
     "mqless-runtime/src/mailbox/lease/mod.rs",
     "blame_head: «stalls >= config.max_attempts»,",
     "false",
     ["--test", "semantics", "a_message_that_kills_its_process"], False),
    ("a batch ignores its lease deadline",
     "4: one at a time (a slow batch outlives its lease)",
     "mqless-runtime/src/mailbox/lease/mod.rs",
     "if batch.is_full() || «host.lease_near_end(self.lease_until)» {",
     "false",
     ["--test", "embedded_invariants", "a_batch_commits_and_renews_its_lease"], False),
    ("a failed drain keeps its lease",
     "7: no stall is counted for a store error",
     "mqless-runtime/src/mailbox/mod.rs",
     "            Err(_) => {\n                «let _ = self.store.release(address, epoch).await;»",
     "",
     ["--test", "embedded_invariants", "a_drain_whose_commit_fails_mid_lease_frees_its_lease"], False),
    ("Err does not roll the state back",
     "5: a method that returns Err leaves no change",
     "mqless-runtime/src/mailbox/batch/mod.rs",
     "«self.working.roll_back(read_only, &limits)?;»\n                    self.tally.failed += 1;",
     "",
     ["--test", "semantics", "err_rolls_back_within_a_batch"], False),
    ("a batch ignores the transaction budget of its sends",
     "7: no actor is wedged (a commit over DynamoDB's 4 MB transaction limit fails on every retry)",
     "mqless-runtime/src/mailbox/batch/budget.rs",
     "if «self.outgoing.is_empty() && self.subscriptions.is_empty()» {\n            return true;",
     "true",
     ["--test", "semantics", "big_fan_outs"], False),
    ("a batch ignores the worst case of its state record",
     "7: no actor is wedged (a state record over DynamoDB's 400 KB item limit)",
     "mqless-runtime/src/mailbox/batch/budget.rs",
     "|| «!self.record_fits_one_more()»",
     "false",
     ["--test", "deterministic_failures", "the_worst_case_state_record"], False),
    ("a commit refused for size is retried as it is",
     "7: nothing retries the same deterministic failure forever",
     "mqless-runtime/src/mailbox/lease/refusal.rs",
     "let Some(refusal) = «refused_for_size(&error)» else {",
     "None",
     ["--test", "deterministic_failures", "a_message_whose_commit_cannot_fit"], False),
    ("an undecodable state fails every drain instead of quarantining",
     "7: no actor is wedged, and nothing is silent (a state change on redeploy)",
     "mqless-runtime/src/mailbox/mod.rs",
     "Err(Damaged(reason)) => «self.quarantine(address, epoch, reason).await»,",
     "Err(Error::Config(reason))",
     ["--test", "deterministic_failures", "a_state_that_no_longer_decodes"], False),
    ("an acquire whose answer was lost is not given back",
     "7: a healthy message is not dead-lettered for lost answers",
     "mqless-runtime/src/mailbox/acquire.rs",
     "«let _ = self.store.abandon(address, owner).await;»",
     "",
     ["--test", "deterministic_failures", "lost_acquire_answers"], False),
    ("optimistic drains ignore the freshness rule",
     "7: a message that kills its process is found (optimistic drains leave no stall count)",
     "mqless-runtime/src/mailbox/mod.rs",
     "|| «!due.iter().all(|item| fresh(item.id, now))»",
     "false",
     ["--test", "optimistic", "optimistic_drains"], False),
    ("optimistic drains look for the last batch's leftovers among due messages only",
     "2: exactly once (a consumed message queued behind a scheduled one runs again)",
     "mqless-runtime/src/mailbox/lease/mod.rs",
     "if «leftovers || !whole_mailbox && !self.book.consumed.is_empty()» {",
     "items.iter().any(|item| self.book.consumed.contains(&item.id))",
     ["--test", "optimistic", "optimistic_drains"], False),
    ("a settled ask's late reply or timeout runs its reply method again",
     "2: exactly once (an ask between actors is answered once)",
     "mqless-runtime/src/mailbox/batch/mod.rs",
     "            if «!open» {",
     "false",
     ["--test", "conversation"], False),
    ("a redriven reminder fire starts a second chain",
     "8: a reminder has exactly one live chain (a redrive after Err)",
     "mqless-runtime/src/mailbox/reminder.rs",
     "                _ => «FireKind::Copy»,\n",
     "FireKind::Chain",
     ["--test", "reminders", "reminders_on_a_manual_clock"], False),
    ("a reminder fire dead-lettered unrun ends its reminder",
     "8: a reminder has exactly one live chain (a stalled or refused fire)",
     "mqless-runtime/src/mailbox/batch/mod.rs",
     "«self.continue_past_unrun_fire(item, &envelope)?;»",
     "",
     ["--test", "reminder_faults"], False),
    ("a cancelled reminder keeps its live slot",
     "7: no actor is wedged (reminder names that never free)",
     "mqless-runtime/src/mailbox/reminder.rs",
     "let tip = «self.tips.remove(name)»;",
     "self.tips.get(name).copied()",
     ["--test", "reminders", "reminders_on_a_manual_clock"], False),
    ("a timeout dead-lettered unrun keeps holding its ask's slot",
     "7: no actor is wedged (dead-lettered timeouts fill the 1,000 open asks)",
     "mqless-runtime/src/mailbox/batch/mod.rs",
     "«self.set_aside(item.id);»\n",
     "",
     ["--test", "conversation"], False),
    ("the memory store ignores the 100-item transaction cap",
     "7: the embedded store enforces DynamoDB's limits",
     "mqless-runtime/src/store/limits.rs",
     "if «items > MAX_TRANSACTION_ITEMS» {",
     "false",
     ["--test", "semantics", "the_memory_store_refuses"], False),
    ("a local ask is answered before its message is cleaned up",
     "1: an answered ask leaves nothing pending",
     "mqless-runtime/src/mailbox/lease/mod.rs",
     "let local = «host.claim_local_replies(self.address, &self.book)»;",
     "{ let mut local = host.claim_local_replies(self.address, &self.book); for (asker, reply) in std::mem::take(&mut local.claimed) { let _ = asker.send(reply); } local }",
     ["--test", "embedded_invariants", "an_answered_ask"], False),
    ("a caller's id floor moves the process-wide sequence",
     "3: no caller shifts the order of messages that are not its own",
     "mqless-runtime/src/id.rs",
     "        self.0 = «own»;\n",
     "own.max(floor.map_or(0, |f| f.0 + 1))",
     ["-p", "mqless-runtime", "--lib", "id::"], False),
    ("the template lets topics answer reply_to asks",
     "9: least privilege (the events function writes a publisher's mailbox)",
     "mqless-cli/src/commands/template/iam.rs",
     "let answers_asks = «actor_type != mqless_runtime::events::TOPIC_TYPE»;",
     "!actor_type.is_empty()",
     ["--bin", "mqless", "template"], False),
    ("a fan-out step goes on in a new message behind the next event",
     "8: each subscriber receives a topic's events once, in publish order",
     "mqless-runtime/src/topics.rs",
     "«ctx.continue_with(body).map_err(|e| e.to_string())?;»",
     "ctx.send_body(ctx.address(), body).await.map_err(|e| e.to_string())?;",
     ["--test", "events", "fan_out_steps_of_different_sizes"], False),
    ("a topic delivers every routed match in one step",
     "1: an acknowledged message is processed (an event matching more routed subscriptions than a step holds)",
     "mqless-runtime/src/topics.rs",
     "«deliveries.extend(rest.by_ref().take(room));»",
     "deliveries.extend(rest.by_ref());",
     ["--test", "events", "more_routed_matches"], False),
    ("a drain ignores its runtime's shutdown",
     "1: a redeploy in place runs no message with the old code after the shutdown",
     "mqless-runtime/src/mailbox/mod.rs",
     "        «stopping»\n            || deadline.is_some_and",
     "false",
     ["--test", "embedded_invariants", "shut_down_or_dropped"], False),
    ("a retried acquire reads its own lease as Busy (DynamoDB store)",
     "7: a healthy drain is not a stall when an answer is lost below the SDK",
     "mqless-runtime/src/aws/dynamodb/lease.rs",
     "Err(Some(found)) if «found.get(OWNER) == Some(&n(owner))» => {",
     "found.get(OWNER) == Some(&n(owner.wrapping_add(1)))",
     ["--test", "lost_answers", "a_retried_acquire"], True),
    ("a retried commit reads its own write as Fenced (DynamoDB store)",
     "1: a committed batch's cleanup, replies and wake-ups are not skipped",
     "mqless-runtime/src/aws/dynamodb/requests.rs",
     "Err(current) if «holds(current.as_ref(), commit)» => CommitOutcome::Committed,\n                Err(_) => CommitOutcome::Fenced,\n            });",
     "false",
     ["--test", "lost_answers", "a_retried_commit"], True),
    ("a retried lift reads its own write as not quarantined (DynamoDB store)",
     "7: an operator can repair a quarantined actor (its lift is not reported failed when its answer was lost)",
     "mqless-runtime/src/aws/dynamodb/quarantine.rs",
     "Err(Some(item)) => «item.get(LIFT_TOKEN) == Some(&n(token))»,",
     "item.get(LIFT_TOKEN) == Some(&n(token.wrapping_add(1)))",
     ["--test", "lost_answers", "a_retried_lift"], True),
    ("the DynamoDB meter takes DynamoDB Local's transaction report as billed",
     "cost: every figure as AWS bills it (a regression of the meter moves the README's figures)",
     "mqless-runtime/src/aws/dynamodb/capacity.rs",
     "self.add(«reported.max(billed)», true);",
     "reported.min(billed)",
     ["--test", "figures", "saga"], True),
    ("a cancelled reminder's queued fire is left for its record to hold back",
     "8: a reminder fire runs once, never after its reminder ended (after TTL deletes the record)",
     "mqless-runtime/src/mailbox/batch/time.rs",
     "        if let Some(fire) = «self.next.registry().cancel(name, now)» {",
     "self.next.registry().cancel(name, now).filter(|_| false)",
     ["--test", "expiry"], False),
    ("an idle actor's record expires while its ask is open or its reminder lives",
     "8: each ask is answered once (after TTL deletes the record)",
     "mqless-runtime/src/mailbox/lease/mod.rs",
     "    if stopped || «next.tracks_anything()» {",
     "false",
     ["--test", "expiry"], False),
    ("a stray wake-up's lease item never expires",
     "7: nothing woken for nothing (stray records kept for ever)",
     "mqless-runtime/src/store/record.rs",
     "Change::ExpiresAt(«Some(forget_at)»),",
     "None",
     ["--test", "expiry", "a_stray_wake_up"], False),
    ("a malformed mailbox item is skipped and left (DynamoDB store)",
     "7: nothing woken for nothing (an item written past MQLess keeps its actor pending)",
     "mqless-runtime/src/aws/dynamodb/mod.rs",
     "«self.retire_malformed(address, item, &reason).await;»",
     "",
     ["--test", "dynamodb", "foreign_mailbox_items"], True),
    ("a dead letter is put apart from its message's delete (DynamoDB's move of an item)",
     "2: exactly once (a cleanup cut between the two: a discarded letter comes back, a redriven one runs twice)",
     "mqless-runtime/src/aws/dynamodb/requests.rs",
     "        «self.transact(vec![\n            TransactWriteItem::builder().delete(delete).build(),\n            TransactWriteItem::builder().put(put).build(),\n        ])\n        .await»\n",
     "async {\n            self.transact(vec![TransactWriteItem::builder().put(put).build()]).await?;\n            self.transact(vec![TransactWriteItem::builder().delete(delete).build()]).await\n        }\n        .await",
     ["--test", "lost_answers", "a_discarded_dead_letter_stays_discarded"], True),
    ("an acquire writes the lease item over a racing acquire (DynamoDB's translation of the guard)",
     "4: one message of an actor at a time, on DynamoDB",
     "mqless-runtime/src/aws/dynamodb/transitions.rs",
     "Guard::Unchanged(None) => «\"attribute_not_exists(pk)\".to_owned()»,",
     "\"attribute_not_exists(pk) OR attribute_exists(pk)\".to_owned()",
     ["--test", "store_conformance", "dynamodb_refuses_an_acquire_that_read_before"], True),
    ("a releasing commit leaves the lease item speaking (the record's rule, both stores)",
     "1: an acknowledged message is processed (an actor busy until its lease runs out)",
     "mqless-runtime/src/store/record.rs",
     "if let Some(lease) = lease.filter(|l| «l.epoch > record.epoch») {",
     "l.epoch >= record.epoch",
     ["--test", "store_conformance", "the_memory_store_keeps_the_contract"], False),
    ("a release leaves a renewed lease in force (the record's transition, both stores)",
     "1: an acknowledged message is processed (an actor busy until its lease runs out)",
     "mqless-runtime/src/store/record.rs",
     "                Change::Epoch(«epoch + 1»),",
     "epoch",
     ["--test", "store_conformance", "the_memory_store_keeps_the_contract"], False),
    ("a stopping drain leaves its lease item holding the lease",
     "1: an acknowledged message is processed (after a stop and TTL's deletion, until the lease runs out)",
     "mqless-runtime/src/mailbox/lease/mod.rs",
     "        if «self.working.stopped && commit.lease_expires_at == 0» {",
     "false",
     ["--test", "expiry", "nothing_depends"], False),
    ("a stopping commit lets its record expire before its cleanup is done",
     "2: exactly once (a stopping message whose cleanup was cut runs again after TTL deleted its record)",
     "mqless-runtime/src/mailbox/lease/mod.rs",
     "            expires_at: «commit_expiry::<A>(self.working.stopped, &next, now)»,",
     "if self.working.stopped { Some(now) } else { commit_expiry::<A>(false, &next, now) }",
     ["--test", "expiry", "nothing_depends"], False),
    ("a stopped actor's record never expires (its cleanup forgets the expiry)",
     "7: nothing woken for nothing (a stopped actor's record kept for ever)",
     "mqless-runtime/src/mailbox/cleanup.rs",
     "        let at = if «book.stopped» {",
     "false",
     ["--test", "expiry", "nothing_depends"], False),
    ("a wait for an unavailable channel leaves the idle expiry in force",
     "2: exactly once (a message whose cleanup waited longer than the idle time to live runs again after TTL deleted its record)",
     "mqless-runtime/src/mailbox/cleanup.rs",
     "        if «batch.expires_at.is_none()» {\n            return;",
     "true",
     ["--test", "emissions", "a_record_outlives_a_wait_for_a_channel_longer"], False),
    ("a finished cleanup leaves a suspended idle expiry suspended",
     "7: nothing woken for nothing (an idle record kept for ever after a channel's outage)",
     "mqless-runtime/src/mailbox/cleanup.rs",
     "        } else if «expires_at.is_none() && !book.tracks_anything()» {",
     "false",
     ["--test", "emissions", "a_record_outlives_a_wait_for_a_channel_longer"], False),
    ("a redriven emission is consumed without being emitted again",
     "1: an acknowledged message is processed (an emission its channel refused, redriven, is lost)",
     "mqless-runtime/src/mailbox/batch/emissions.rs",
     "                «self.next.emit(vec![emission])»",
     "{ let _ = emission; Ok(()) }",
     ["--test", "fault_scenarios", "invariants_hold_under_injected_faults_on_the_memory_store"], False),
    ("an emission waits for an unavailable channel for ever",
     "7: no actor is wedged (a channel that never comes back holds the actor's messages for ever)",
     "mqless-runtime/src/mailbox/delivery.rs",
     "                if «waited < most» {",
     "true",
     ["--test", "emissions", "an_emission_that_waits_too_long"], False),
    ("commit ignores the version (DynamoDB's translation of the guard)",
     "2: exactly once, under zombies and expired leases, on DynamoDB",
     "mqless-runtime/src/aws/dynamodb/transitions.rs",
     "«format!(\"{} = {}\", self.name(\"ver\"), self.value(\"ver\", n(version)))»",
     "format!(\"{} = {} OR attribute_exists(pk)\", self.name(\"ver\"), self.value(\"ver\", n(version)))",
     ["--test", "store_conformance", "dynamodb_keeps_the_contract"], True),
    ("an optimistic drain keeps a due mark it never clears",
     "7: nothing woken for nothing (a marked actor woken by every sweep, forever)",
     "mqless-runtime/src/mailbox/mod.rs",
     "            || «record.mark.is_some()»\n",
     "false",
     ["--test", "optimistic", "optimistic_drains"], False),
    ("a wake-up that finds the lease held knocks but marks nothing",
     "1: an acknowledged message is processed (an owner crashed, its retry came while its lease ran)",
     "mqless-runtime/src/store/record.rs",
     "        if «mark.is_none_or(|mark| mark > at)» {\n            changes.push(Change::Mark(Some(at)));",
     "false",
     ["--test", "store_conformance", "the_memory_store_keeps_the_due_index"], False),
    ("a client whose wake-up failed marks nothing",
     "1: an acknowledged message is processed (a refused wake-up)",
     "mqless-runtime/src/actor/client/transport.rs",
     "«crate::store::due::mark_unwoken(&*self.store, to, id, now, &error).await;»",
     "",
     ["--test", "embedded_invariants", "a_refused_wake_up_of_a_clients_send"], False),
    ("a commit that fails does not mark its recipients",
     "1: an acknowledged message is processed (a commit landed, its answer lost, before the wake-ups)",
     "mqless-runtime/src/mailbox/lease/mod.rs",
     "«host.mark_recipients(self.address, &commit.outgoing).await;»",
     "",
     ["--test", "embedded_invariants", "a_commit_whose_answer_is_lost"], False),
    ("a scheduled message is not in the due index (memory store)",
     "8: a scheduled message runs (the sweep finds it)",
     "mqless-runtime/src/store/memory/actor_data.rs",
     "            Some(at) => «self.due.insert(id, at)»,",
     "self.due.remove(&id)",
     ["--test", "store_conformance", "the_memory_store_keeps_the_due_index"], False),
    ("a message its sender marked is not in the due index (memory store)",
     "1: an acknowledged message is processed (a refused wake-up, marked on the message)",
     "mqless-runtime/src/store/memory/mod.rs",
     "«data.mark_message(id, at);»",
     "",
     ["--test", "store_conformance", "the_memory_store_keeps_the_due_index"], False),
    ("a handler whose recipient's wake-up failed marks nothing",
     "1: an acknowledged message is processed (a refused wake-up of a commit's recipient)",
     "mqless-runtime/src/mailbox/recipients.rs",
     "«crate::store::due::mark_unwoken(&*self.store, to, first, now, &error).await;»",
     "",
     ["--test", "embedded_invariants", "a_refused_wake_up_of_a_handlers_recipient"], False),
    ("a late mark brings a consumed message back (DynamoDB's condition)",
     "2: exactly once (a consumed message is not queued again)",
     "mqless-runtime/src/aws/dynamodb/sweeping.rs",
     "«\"attribute_exists(pk) AND (attribute_not_exists(#dk) OR #dk > :dk)\"»",
     "\"attribute_not_exists(#dk) OR #dk > :dk\"",
     ["--test", "store_conformance", "dynamodb_keeps_the_due_index"], True),
    ("the transitional layout leaves a consumed message's v1 copy",
     "7: nothing woken for nothing (a consumed message left in v1's partition, which the audit wakes its actor for until a migration moves it)",
     "mqless-runtime/src/aws/dynamodb/cleanup.rs",
     "            let keys = consumed.iter().map(|id| message_key_in(&legacy, *id));\n            «self.batch_write(delete_requests(keys)?).await?;»",
     "drop(keys);",
     ["--test", "dynamodb", "a_drain_on_the_way_to_v2_deletes"], True),
    ("a table that records no key layout is taken for v2",
     "1: an acknowledged message is processed (a v1 table's processes not told their layout must stay v1, or the messages queued there wait where no drain reads)",
     "mqless-runtime/src/aws/mod.rs",
     "Ok(None) => Ok(«KeyLayout::V1»),",
     "KeyLayout::V2",
     ["--test", "dynamodb", "a_table_records_its_layout"], True),
    ("the sweeper's key layout overwrites the one a table records",
     "1: an acknowledged message is processed (a v1 table's sweeper told v2 would send its processes to partitions no drain reads)",
     "mqless-runtime/src/aws/dynamodb/layout_record.rs",
     "if «self.put_if_absent(item).await?» {",
     "{ self.put(item).await?; true }",
     ["--test", "dynamodb", "the_stacks_layout_is_recorded"], True),
    ("a client's read of an actor's state reads the whole record",
     "isolation (v2): a client reads no other asker's reply (the record's bookkeeping keeps the last batch's)",
     "mqless-runtime/src/aws/dynamodb/mod.rs",
     "                schema::state_key(address),\n                «Some(&schema::COMMITTED_STATE_ATTRIBUTES)»,",
     "None",
     ["--test", "dynamodb", "a_clients_reads_of_an_actors_partition"], True),
    ("an ask whose invocation outlasts it returns a bare timeout",
     "nothing silent: a timed-out ask on a quarantined actor says it is quarantined",
     "mqless-runtime/src/actor/client/transport.rs",
     "                Err(_) => «{}»\n            }\n            self.read_reply(to, id, deadline).await",
     "return Ok(None)",
     ["-p", "mqless-runtime", "--lib", "an_ask_whose_invocation_outlasts_it"], False),
    ("a client's read of a mailbox reads the envelopes",
     "isolation (v2): a client reads no other client's queued request",
     "mqless-runtime/src/aws/dynamodb/mod.rs",
     "let attributes = «Some(&schema::QUEUED_KEY_ATTRIBUTES[..])»;",
     "None",
     ["--test", "dynamodb", "a_clients_reads_of_a_mailbox"], True),
    ("an unanswered enqueue without a key is put again",
     "2: exactly once (a put whose answer was lost, after its message ran and a later batch committed)",
     "mqless-runtime/src/aws/dynamodb/enqueue.rs",
     "} else if «has_idempotency_key(&message.envelope)» {",
     "true",
     ["--test", "lost_answers", "an_enqueue_whose_answer_is_lost_after_the_message_ran"], True),
    ("the transitional layout reads v2's mailbox only",
     "3: each sender's messages in order (a v1 table moving to v2: its queued messages wait for the move)",
     "mqless-runtime/src/aws/dynamodb/layout.rs",
     "        «self.legacy_mailbox(address)»\n            .into_iter()\n            .chain([self.mailbox_partition(address)])",
     "None::<String>",
     ["--test", "dynamodb", "a_v1_table_in_use_moves_to_v2"], True),
    ("the transitional layout reads v2's mailbox before v1's",
     "1: an acknowledged message is processed (a message moved between a drain's two reads)",
     "mqless-runtime/src/aws/dynamodb/mod.rs",
     "for mailbox in «mailboxes» {\n                let read = self",
     "{ let mut v2_first = mailboxes; v2_first.reverse(); v2_first }",
     ["--test", "dynamodb", "a_message_moved_between_a_drains_two_reads_is_read"], True),
    ("a sweep that ran out of time does not wrap around",
     "8: every due actor is reached, fairly (the cursor's wrap-around)",
     "mqless-runtime/src/recovery/sweep.rs",
     "«passes.push((None, cursor.clone()));»",
     "",
     ["--test", "store_conformance", "the_memory_store_keeps_the_due_index"], False),
    ("the sweep wakes quarantined actors",
     "7: nothing woken for nothing (a quarantined actor woken every period)",
     "mqless-runtime/src/recovery/sweep.rs",
     "                if «quarantined.contains(&entry.address)» {",
     "false",
     ["--test", "store_conformance", "the_memory_store_keeps_the_due_index"], False),
    ("a scheduled message is not in the due index (DynamoDB store)",
     "8: a scheduled message runs (the sweep finds it), on DynamoDB",
     "mqless-runtime/src/aws/dynamodb/schema.rs",
     "«index_due(&mut message, address, &sort_key, at);»",
     "",
     ["--test", "store_conformance", "dynamodb_keeps_the_due_index"], True),
    ("an unmark leaves the mark (the record's guard, as the memory store applies it)",
     "7: nothing woken for nothing (a drained actor woken every period)",
     "mqless-runtime/src/store/record.rs",
     "(Guard::MarkIs(at), Some(r)) => «r.mark == Some(at)»,",
     "false",
     ["--test", "store_conformance", "the_memory_store_keeps_the_due_index"], False),
    ("a removed mark stays in the due index (DynamoDB's translation of the change)",
     "7: nothing woken for nothing (a drained actor woken every period), on DynamoDB",
     "mqless-runtime/src/aws/dynamodb/transitions.rs",
     "«self.set_or_remove(DUE_SHARD, at.map(|_| due_shard(address)));\n                self.set_or_remove(DUE_KEY, key);»",
     "if at.is_some() { self.set_or_remove(DUE_SHARD, at.map(|_| due_shard(address))); self.set_or_remove(DUE_KEY, key); }",
     ["--test", "store_conformance", "dynamodb_keeps_the_due_index"], True),
    ("an emission whose channel is unavailable is skipped, not waited for",
     "8: an emission is delivered at least once, in emit order (a later one never overtakes one its channel could not take yet)",
     "mqless-runtime/src/mailbox/delivery.rs",
     "                    «return Err(EmitError::Unavailable { channel, reason }.into());»",
     "drop((channel, reason));\ncontinue;",
     ["--test", "emissions", "later_emissions_wait_while_a_channel_is_unavailable"], False),
    ("a refused emission leaves no dead letter (the memory store's cleanup)",
     "7: nothing silent (a refused emission is a dead letter)",
     "mqless-runtime/src/store/memory/mod.rs",
     "for letter in «cleanup.undeliverable» {",
     "&cleanup.undeliverable[..0]",
     ["--test", "emissions", "a_refused_emission_is_a_dead_letter_whose_redrive_emits_it_under_its_id"], False),
    ("a refused emission leaves no dead letter (DynamoDB's cleanup)",
     "7: nothing silent (a refused emission is a dead letter), on DynamoDB",
     "mqless-runtime/src/aws/dynamodb/cleanup.rs",
     "for letter in «cleanup.undeliverable» {",
     "&cleanup.undeliverable[..0]",
     ["--test", "emissions", "a_refused_emission_is_a_dead_letter_whose_redrive_emits_it_on_dynamodb_local"], True),
    ("a releasing commit reports no knock though a wake-up knocked (both stores)",
     "1: an acknowledged message is processed (lost wake-up: the knock)",
     "mqless-runtime/src/store/outcome.rs",
     "if commit.lease_expires_at == 0 && «!knocked» {",
     "true",
     ["--test", "embedded_invariants", "a_wake_up_that_finds_the_lease_held_knocks"], False),
    ("a wake-up that finds the lease held does not knock",
     "1: an acknowledged message is processed (lost wake-up: the knock)",
     "mqless-runtime/src/mailbox/acquire.rs",
     "if «self.store.knock(address, version, mark, at).await?» {",
     "true",
     ["--test", "embedded_invariants", "a_wake_up_that_finds_the_lease_held_knocks"], False),
    ("a knock lands after the commit it was meant for (the record's guard ignores the version)",
     "1: an acknowledged message is processed (a knock nobody reads)",
     "mqless-runtime/src/store/record.rs",
     "«r.version == version» && r.mark == mark",
     "true",
     ["--test", "store_conformance", "the_memory_store_keeps_the_contract"], False),
    ("a knock lands after the commit it was meant for (DynamoDB's condition ignores the version)",
     "1: an acknowledged message is processed (a knock nobody reads), on DynamoDB",
     "mqless-runtime/src/aws/dynamodb/transitions.rs",
     "«format!(\"({version}) AND {mark}\")»",
     "{ let _ = version; mark }",
     ["--test", "store_conformance", "dynamodb_keeps_the_contract"], True),
    ("a releasing commit on DynamoDB does not ask for the record it replaced",
     "1: an acknowledged message is processed (a knock unseen), on DynamoDB",
     "mqless-runtime/src/aws/dynamodb/requests.rs",
     ".set_return_values(«(commit.lease_expires_at == 0).then_some(ReturnValue::AllOld)»)",
     "None",
     ["--test", "store_conformance", "dynamodb_keeps_the_contract"], True),
    ("an owner nobody knocked on reads the mailbox again after its release",
     "cost: one request per drain (the ask's count)",
     "mqless-runtime/src/mailbox/lease/mod.rs",
     "let knocked = «outcome != CommitOutcome::CommittedUnknocked»;",
     "true",
     ["--test", "dynamodb", "an_ask_answered_in_process"], True),
    ("an owner whose commit queued a message to itself does not look again",
     "1: an acknowledged message is processed (a reminder's catch-up fires, with wake-ups recorded, not delivered)",
     "mqless-runtime/src/mailbox/lease/mod.rs",
     "knocked || «sent_to_itself»",
     "false",
     ["--test", "reminders", "reminders_on_a_manual_clock"], False),
    ("DynamoDB's acquire drops the messages it read beside its write",
     "1: an acknowledged message is processed (the first batch), on DynamoDB",
     "mqless-runtime/src/aws/dynamodb/lease.rs",
     "return Ok((taken, «mailbox?.unwrap_or_default()»));",
     "{ let _ = mailbox?; Vec::new() }",
     ["--test", "store_conformance", "dynamodb_keeps_the_contract"], True),
    ("key layout v2: the drain reads the actor's partition for its mailbox",
     "1: an acknowledged message is processed (mailboxes apart), on DynamoDB",
     "mqless-runtime/src/aws/dynamodb/mod.rs",
     "let mailboxes = «self.layout.mailboxes(address)»;",
     "vec![address.to_string()]",
     ["--test", "store_conformance", "dynamodb_keeps_the_contract_with_mailboxes_apart"], True),
    ("key layout v2: the sweep takes a scheduled message's partition for its actor's address",
     "1: an acknowledged message is processed (a scheduled message in a mailbox apart is woken for), on DynamoDB",
     "mqless-runtime/src/aws/dynamodb/sweeping.rs",
     "Some(sk) if sk.starts_with(MESSAGE) => «self.layout.mailbox_owner(pk)»,",
     "Address::parse(pk).ok()",
     ["--test", "store_conformance", "dynamodb_keeps_the_due_index_with_mailboxes_apart"], True),
    ("key layout v2: retiring an actor leaves its mailbox partition",
     "7: nothing silent (a retired actor's queued messages are deleted with it), on DynamoDB",
     "mqless-runtime/src/aws/dynamodb/actors.rs",
     "            «self.layout\n                .mailboxes(address)»\n                .into_iter()\n                .map(|m| (m, MESSAGE)),",
     "vec![address.to_string()]",
     ["--test", "dynamodb", "retiring_an_actor_empties_its_mailbox_partition"], True),
    ("key layout v2: the cleanup deletes consumed messages under v1's keys",
     "2: exactly once (a consumed message is deleted), on DynamoDB",
     "mqless-runtime/src/aws/dynamodb/cleanup.rs",
     ".map(|id| message_key(«self.layout», address, *id));",
     "super::schema::KeyLayout::V1",
     ["--test", "dynamodb", "mailboxes_apart_keep_messages_out_of_the_actors_partition"], True),
    ("a drain that fails marks nothing for the sweep (before the lease, optimistic, after it)",
     "1: an acknowledged message is processed (a failed drain whose invocation is not retried)",
     "mqless-runtime/src/mailbox/mod.rs",
     "if let Err(mark) = «self.store.arm(&address, now).await» {",
     "Ok::<(), crate::error::StoreError>(())",
     ["--test", "embedded_invariants", "a_wake_up_that_fails_before_holding_the_lease"], False),
    ("a topic takes subscribe messages where subscribers commit their own",
     "isolation (key layout v2): no sender subscribes another actor",
     "mqless-runtime/src/topics.rs",
     "if «!routes.store.subscription_writers().topics_take_messages()» {",
     "false",
     ["--test", "subscriptions_apart", "embedded::only_the_subscribers_own_commit_subscribes_it"], False),
    ("ctx.subscribe sends to the topic where subscribers commit their own",
     "isolation (key layout v2): only the subscriber's commit subscribes it",
     "mqless-runtime/src/actor/context/topics.rs",
     "if «self.outbox.subscription_writers.subscribers_commit()» {\n            return self.commit_subscription(topic, subscription, pattern, true);",
     "false",
     ["--test", "subscriptions_apart", "embedded::only_the_subscribers_own_commit_subscribes_it"], False),
    ("key layout v2: a fan-out reads the first subscriber type's subscriptions only",
     "1: an acknowledged message is processed (a published event reaches every subscriber)",
     "mqless-runtime/src/aws/dynamodb/subscriptions.rs",
     "if «index + 1 < types.len()» {",
     "false",
     ["--test", "store_conformance", "dynamodb_keeps_the_contract_with_mailboxes_apart"], True),
    ("the transitional fan-out delivers a v1 subscription its subscriber renewed or ended",
     "2: exactly once (a subscription is delivered once), on a table on its way to v2",
     "mqless-runtime/src/aws/dynamodb/subscriptions.rs",
     "if «shadowed && self.holds_apart(topic, &record).await?» {",
     "false",
     ["--test", "subscriptions_apart", "dynamodb_local_v2::subscriptions_move_from_v1_to_v2"], True),
    ("the fault world counts lost wake-ups for touched actors only",
     "the kit explains every audit find (a kill after a commit loses its recipients' wake-ups)",
     "mqless-runtime/src/testing/world/mod.rs",
     "let recipients = «self.rig.store.commit_recipients()»;",
     "std::collections::BTreeSet::<Address>::new()",
     ["--test", "testing_kit", "a_kill_after_a_commit_explains_its_untouched_recipients"], False),
    ("recovery takes a sweep whose wake-ups failed for one that found nothing",
     "the kit explains every audit find (a refused sweep wake-up is seen, not lost)",
     "mqless-runtime/src/testing/world/recovery.rs",
     "let idle = swept.nudged == 0 && «swept.failed.is_empty()» && woken.is_empty();",
     "true",
     ["--test", "testing_kit", "a_sweep_whose_wake_up_is_refused_sweeps_again"], False),
]


def selection(test):
    """The `cargo test` arguments that build the mutation's test (`--no-run`, in `build`).

    With the features of `cargo test --workspace --all-features` (scripts/test's build),
    so that every third-party crate that build compiled is reused: selecting one package
    alone unifies features differently (tokio's, say) and rebuilds the AWS SDK beneath
    it. Test target names are unique in the workspace, so `--test NAME` (or `--bin`)
    picks one. A package's `--lib` tests can't be narrowed under `--workspace`: those are
    given as `-p <package> --lib` and run in their package alone (mqless-runtime's need
    no AWS crate).
    """
    if test[0] == "-p":
        return test
    return ["--workspace", "--all-features"] + test


def copy_workspace(repo, dest):
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=repo, check=True, capture_output=True).stdout.split(b"\0")
    for name in files:
        if not name:
            continue
        src = os.path.join(repo, name.decode())
        if not os.path.isfile(src):
            continue
        dst = os.path.join(dest, name.decode())
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)


SWITCH = """
/// Mutation schemata (scripts/mutants.py): written into its copy of the workspace only.
#[doc(hidden)]
#[allow(missing_docs, unreachable_pub, dead_code)]
pub mod __mutant {
    /// Whether mutation `k` is the one this process runs (`MQLESS_MUTANT=k`).
    pub fn on(k: usize) -> bool {
        static ACTIVE: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
        *ACTIVE.get_or_init(|| std::env::var("MQLESS_MUTANT").ok().and_then(|k| k.parse().ok()))
            == Some(k)
    }
}
"""


def schema(k, site, replacement):
    """The site with its marked part behind mutation k's switch."""
    before, rest = site.split("«", 1)
    original, after = rest.split("»", 1)
    if original.rstrip().endswith(";"):
        switched = f"if crate::__mutant::on({k}) {{ {replacement} }} else {{ {original} }}"
    else:
        switched = f"(if crate::__mutant::on({k}) {{ {replacement} }} else {{ {original} }})"
    return before + switched + after


def crate_root(copy, path):
    package = path.split("/", 1)[0]
    for root in ("src/lib.rs", "src/main.rs"):
        if os.path.isfile(os.path.join(copy, package, root)):
            return os.path.join(package, root)
    sys.exit(f"scripts/mutants.py: no src/lib.rs or src/main.rs in {package}")


def write_schemata(copy):
    """Writes every mutation into the copy behind its switch."""
    originals, sources, roots = {}, {}, set()
    for k, (name, _, path, site, replacement, _, _) in enumerate(MUTATIONS):
        plain = site.replace("«", "").replace("»", "")
        if path not in sources:
            originals[path] = sources[path] = open(os.path.join(copy, path)).read()
        original = originals[path]
        if original.count(plain) != 1:
            sys.exit(f"mutation {name!r}: its site is in {path} {original.count(plain)} times, not once; update scripts/mutants.py")
        if sources[path].count(plain) != 1:
            sys.exit(f"mutation {name!r}: its site in {path} overlaps another mutation's; make them apart")
        sources[path] = sources[path].replace(plain, schema(k, site, replacement))
        roots.add(crate_root(copy, path))
    for path, text in sources.items():
        open(os.path.join(copy, path), "w").write(text)
    for root in roots:
        with open(os.path.join(copy, root), "a") as file:
            file.write(SWITCH)


def build(copy, env, chosen):
    """One build of every test the chosen mutations run (the workspace's in one go), and
    where each test binary is: each mutation runs its binary directly, which saves cargo's
    look over the whole workspace (about a second) per mutation."""
    targets = dict.fromkeys(tuple(test[:2]) for (_, test) in chosen if test[0] != "-p")
    workspace = [arg for target in targets for arg in target]
    packages = {tuple(test) for (_, test) in chosen if test[0] == "-p"}
    builds = ([selection(workspace)] if workspace else []) + [list(p) for p in packages]
    binaries = {}
    for args in builds:
        run = subprocess.run(["cargo", "test", "--quiet", "--locked", "--no-run", "--message-format=json"] + args,
                             cwd=copy, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"the mutation schemata do not compile (a site's replacement or its type):\n{run.stderr[-4000:]}")
        for line in run.stdout.splitlines():
            artifact = json.loads(line)
            if artifact.get("reason") != "compiler-artifact" or not artifact.get("executable"):
                continue
            target, package_dir = artifact["target"], os.path.dirname(artifact["manifest_path"])
            kind = "--lib" if "lib" in target["kind"] else f"--{target['kind'][0]}"
            binaries[(kind, target["name"])] = (artifact["executable"], package_dir)
    return binaries


def binary_for(binaries, test):
    """The test binary, its package's directory and its arguments (a name filter)."""
    if test[0] == "-p":  # -p <package> --lib [filter]: the package's library, by crate name
        found, rest = binaries.get(("--lib", test[1].replace("-", "_"))), test[3:]
    else:  # --test NAME [filter] or --bin NAME [filter]
        found, rest = binaries.get((test[0], test[1])), test[2:]
    if found is None:
        sys.exit(f"scripts/mutants.py: the build made no test binary for `{' '.join(test)}`")
    return found[0], found[1], rest


def run_mutation(env, binaries, k, test):
    """Runs mutation k's test with its switch on: (k, its line of the report)."""
    name, invariant = MUTATIONS[k][0], MUTATIONS[k][1]
    executable, package_dir, filters = binary_for(binaries, test)
    started = time.time()
    # As `cargo test` runs a test binary: from its package's directory, with the
    # variables cargo sets (a test that runs cargo, say, reads CARGO).
    run = subprocess.run([executable, "-q"] + filters, cwd=package_dir,
                         env=dict(env, MQLESS_MUTANT=str(k), CARGO_MANIFEST_DIR=package_dir,
                                  CARGO=env.get("CARGO", shutil.which("cargo") or "cargo")),
                         capture_output=True, text=True)
    took = time.time() - started
    verdict = "KILLED  " if run.returncode != 0 else "SURVIVED"
    # The failed assertion, so a kill for the wrong reason (say, a request error) shows.
    why = next((line.strip() for line in (run.stdout + run.stderr).splitlines()
                if "assertion" in line or "seed " in line), "")
    return k, f"{verdict}  {name} -> breaks invariant {invariant}; caught by `{' '.join(test)}` ({took:.0f} s){': ' + why[:160] if why else ''}"


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dynamodb = bool(os.environ.get("MQLESS_TEST_DYNAMODB_ENDPOINT"))
    # One copy for all mutations, and this checkout's target/: third-party crates are
    # reused, and the copy's schemata rebuild only the crates above the changed files.
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(repo, "target"))
    env.pop("MQLESS_MUTANT", None)
    copy = os.path.join(repo, "target", "mutants-workspace")
    shutil.rmtree(copy, ignore_errors=True)
    copy_workspace(repo, copy)
    write_schemata(copy)
    only = sys.argv[1:]  # optional: run the mutations whose name contains one of these
    results, chosen = [], []
    for k, (name, _, _, _, _, test, needs_dynamodb) in enumerate(MUTATIONS):
        if only and not any(word in name for word in only):
            continue
        if needs_dynamodb and not dynamodb:
            results.append(f"SKIPPED   {name} (needs DynamoDB Local: run under scripts/local-aws)")
            continue
        chosen.append((k, test))
    started = time.time()
    binaries = build(copy, env, chosen)
    print(f"built the schemata of {len(chosen)} mutation(s) in {time.time() - started:.0f} s", flush=True)
    # Two mutations at a time (most tests leave a core idle), the docs' figures alone:
    # they count requests, which another test's load moves.
    alone = [(k, test) for (k, test) in chosen if test[:2] == ["--test", "figures"]]
    side_by_side = [pair for pair in chosen if pair not in alone]
    verdicts = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for k, line in pool.map(lambda pair: run_mutation(env, binaries, *pair), side_by_side):
            verdicts[k] = line
            print(line, flush=True)
    for k, test in alone:
        verdicts[k] = run_mutation(env, binaries, k, test)[1]
        print(verdicts[k], flush=True)
    results += [verdicts[k] for (k, _) in chosen]
    survived = [MUTATIONS[k][0] for (k, _) in chosen if verdicts[k].startswith("SURVIVED")]
    shutil.rmtree(copy, ignore_errors=True)
    print("\n".join(["", "mutation results:"] + results))
    if survived:
        sys.exit(f"{len(survived)} mutation(s) survived: the tests no longer catch {survived}")


if __name__ == "__main__":
    main()
