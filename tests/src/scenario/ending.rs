//! The end of a seed: recovery brings every message home once the faults stop, then
//! the checks of what the workload acknowledged against what the actors applied.

use super::*;

impl<S: Store> Run<'_, S> {
    /// The faults stop; sweeps, drains and the audit bring every message home. Wake-ups
    /// still in flight are lost (only the audit finds what they left); every ask's
    /// timeout comes due; corrupted actors are found quarantined and repaired through
    /// the API; dead letters are settled by what they hold.
    pub(super) async fn recover(&mut self) {
        // The tail's relay was committed and its wake-up refused: only its sender's mark
        // brings it to the sweep (else, the audit would find it, unexplained).
        self.stats.tail_relays_refused +=
            u64::from(self.world.nudges().refusals_left(&self.tail()) == 0);
        self.world.store().refuse_states_over(None);
        let params = self.params;
        if let Some(legacy) = &params.legacy {
            self.stats.migrated += (legacy.migrate)().await;
        }
        for address in self.world.take_woken() {
            self.world.nudges().record_lost(&address);
        }
        self.world.rig.clock.advance(asks::LONGEST_TIMEOUT);
        let seed = self.seed;
        let names: Vec<String> = self.all_actors().map(|a| self.name(a)).collect();
        let letters = RefCell::new(Letters::default());
        let redriven = Cell::new(false);
        let repairs = &mut self.repairs;
        let mut quarantined = 0;
        let fate = |address: &Address, letter: &DeadLetter| {
            let fate = letters.borrow_mut().fate(&names, address, letter)?;
            redriven.set(redriven.get() || fate == LetterFate::Redrive);
            Ok(fate)
        };
        let repair = async |world: &mut FaultWorld<S>| {
            if redriven.replace(false) {
                // A redriven ask waits for its answer up to its timeout.
                world.rig.clock.advance(asks::LONGEST_TIMEOUT);
            }
            // A corrupted actor that got no message since is drained too: it must end up
            // quarantined like the others.
            let targets = repairs
                .keys()
                .map(|name| DrainTarget {
                    host: 0,
                    address: log_address(ActorId::new(name.as_str()).unwrap()),
                    kill_after: None,
                })
                .collect();
            world.race(targets).await;
            repair_quarantined(world, &names, repairs, &mut quarantined).await
        };
        self.world
            .recover_with(fate, repair)
            .await
            .unwrap_or_else(|reason| panic!("seed {seed}: {reason}"));
        self.world.take_woken();
        (self.redriven_keys, self.redriven_emissions) =
            letters.into_inner().add_to(&mut self.stats);
        self.stats.quarantined += quarantined;
        let report = self.world.report();
        (self.stats.store, self.stats.nudges) = (report.store_faults, report.nudge_faults);
        self.stats.emit_faults = self.world.rig.emitter.injected();
        self.stats.swept += report.audited;
    }

    /// Each acknowledged message applied exactly once, each sender's messages to one
    /// actor in the order sent (a redriven message runs when redriven, as documented);
    /// the poison dead-lettered, corrupted actors repaired, malformed items
    /// dead-lettered, scheduled messages never early, every mailbox empty.
    pub(super) async fn check(&mut self) {
        let (seed, actors) = (self.seed, self.actors());
        self.stats.poison_runs =
            (0..actors).map(|a| poison_runs(&self.name(a))).sum::<u64>() - self.poison_runs_before;
        assert_eq!(
            self.poison.is_some(),
            self.stats.poison.1 > 0,
            "seed {seed}: the poison message ends in the dead letters"
        );
        assert!(
            self.repairs.is_empty(),
            "seed {seed}: corrupted actors never quarantined: {:?}",
            self.repairs
        );
        assert_eq!(
            self.stats.malformed.0, self.stats.malformed.1,
            "seed {seed}: a malformed item was not dead-lettered"
        );
        let applied = self.applied().await;
        for sender in 0..self.params.senders {
            for seq in 0..self.params.messages {
                let a = u64::from((sender + seq) % self.params.actors);
                let relayed = seq
                    .is_multiple_of(3)
                    .then(|| (relayed_sender(sender, a), seq));
                let unacknowledged = self.unacknowledged.contains(&(sender, seq));
                for key in std::iter::once((sender, seq)).chain(relayed) {
                    if unacknowledged {
                        self.stats
                            .count_unacknowledged(applied.get(&key).copied().unwrap_or(0));
                        continue;
                    }
                    self.stats.acknowledged += 1;
                    self.stats.relayed += u64::from(key.0 >= RELAYED);
                    self.stats
                        .count_applied(applied.get(&key).copied().unwrap_or(0));
                }
            }
        }
        let tail = [(TAIL, 0), (relayed_sender(TAIL, self.tail_relay), 0)];
        for key in tail {
            self.stats.acknowledged += 1;
            self.stats.relayed += u64::from(key.0 >= RELAYED);
            self.stats
                .count_applied(applied.get(&key).copied().unwrap_or(0));
        }
        for key in &self.scheduled {
            self.stats.acknowledged += 1;
            self.stats.scheduled += 1;
            self.stats
                .count_applied(applied.get(key).copied().unwrap_or(0));
        }
        asks::check(&self.asked, &applied, &mut self.stats);
        self.stats.early = early_runs() - self.early_before;
        assert_eq!(
            self.stats.early, 0,
            "seed {seed}: scheduled messages ran before their time"
        );
        let stats = &self.stats;
        assert_eq!(
            (stats.lost, stats.duplicated, stats.out_of_order),
            (0, 0, 0),
            "seed {seed}: lost, duplicated, out of order; redriven {:?}",
            self.redriven_keys
        );
        for a in self.all_actors() {
            let address = log_address(self.id(a));
            let left = self
                .world
                .store()
                .inner
                .read_mailbox(&address, 1)
                .await
                .unwrap();
            assert!(
                left.is_empty(),
                "seed {seed}: messages left queued in {address}"
            );
        }
    }

    /// How many times each `(sender, seq)` was applied, over every actor's history;
    /// counts a sender's messages applied out of order.
    /// Each committed entry of actor `a`'s history was emitted and delivered, in
    /// history order, and nothing else was (a repeat, under the same id, is a delivery
    /// a crash cut short: counted, and skipped). An emission its channel refused for
    /// good may come later (when its dead letter was redriven, or a repeated cleanup
    /// found the channel taking it), under its id: the others keep history order.
    fn check_emissions(&mut self, a: u64, history: &[(u32, u32)]) {
        let from = log_address(self.id(a));
        let refused = self.world.rig.emitter.refused();
        let mut seen = BTreeSet::new();
        let mut late = BTreeSet::new();
        let mut delivered = Vec::new();
        for emitted in self.world.rig.emitter.delivered() {
            if emitted.from != from || emitted.emission.channel != log::CHANNEL {
                continue;
            }
            if !seen.insert(emitted.emission.id) {
                self.stats.emissions_repeated += 1;
                continue;
            }
            let object = emitted.emission.payload.object().unwrap_or_default();
            let entry: log::Emitted =
                serde_json::from_value(serde_json::Value::Object(object)).unwrap();
            if refused.contains(&(from.clone(), emitted.emission.id)) {
                late.insert((entry.sender, entry.seq));
            }
            delivered.push((entry.sender, entry.seq));
        }
        self.stats.emissions += delivered.len() as u64;
        let mut every = delivered.clone();
        every.sort_unstable();
        let mut committed = history.to_vec();
        committed.sort_unstable();
        assert_eq!(
            every, committed,
            "seed {}: {from}'s emissions, as delivered, are not its committed history",
            self.seed
        );
        let on_time = |entries: &[(u32, u32)]| -> Vec<(u32, u32)> {
            entries
                .iter()
                .filter(|e| !late.contains(e))
                .copied()
                .collect()
        };
        assert_eq!(
            on_time(&delivered),
            on_time(history),
            "seed {}: {from}'s emissions were delivered out of history order",
            self.seed
        );
    }

    async fn applied(&mut self) -> BTreeMap<(u32, u32), u64> {
        let mut applied = BTreeMap::<(u32, u32), u64>::new();
        for a in self.all_actors() {
            let log = self
                .world
                .clients()
                .state::<Log>(self.name(a))
                .await
                .unwrap()
                .unwrap_or_default();
            self.stats.asks.add_answers(&log.answers);
            self.check_emissions(a, &log.history);
            let mut last = BTreeMap::<u32, u32>::new();
            for &(sender, seq) in &log.history {
                *applied.entry((sender, seq)).or_default() += 1;
                if self.redriven_keys.contains(&(sender, seq))
                    || sender == SCHEDULED
                    || asks::is_ask(sender)
                {
                    continue;
                }
                if last.get(&sender).is_some_and(|l| *l >= seq) {
                    self.stats.out_of_order += 1;
                }
                last.insert(sender, seq);
            }
        }
        applied
    }
}
