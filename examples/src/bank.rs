//! A bank whose accounts are actors. Deposits, withdrawals (refused when funds are
//! short) and transfers (an actor-to-actor message) arrive from many concurrent tasks;
//! no locks anywhere, and money is conserved because each account applies one message at
//! a time and a transfer's deposit is committed atomically with its withdrawal.

use std::time::{Duration, Instant};

use mqless::{Actors, AskError, Context};
use serde::{Deserialize, Serialize};

/// One bank account.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Account {
    balance: i64,
    /// The lowest balance this account ever had: the proof that it never went negative.
    lowest: i64,
    /// Messages applied (each changes the balance or is refused).
    operations: u64,
}

/// Why the bank refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum BankError {
    /// The account holds less than requested.
    #[error("insufficient funds: balance {balance}, requested {requested}")]
    InsufficientFunds {
        /// The balance when the request arrived.
        balance: i64,
        /// The amount requested.
        requested: i64,
    },
    /// Amounts must be positive.
    #[error("amounts must be positive, got {0}")]
    InvalidAmount(i64),
    /// The transfer could not be addressed or sent.
    #[error("transfer failed: {0}")]
    Transfer(String),
}

/// A send the runtime refused inside `transfer` (an invalid account id, say): one `?`.
impl From<mqless::Error> for BankError {
    fn from(error: mqless::Error) -> Self {
        Self::Transfer(error.to_string())
    }
}

/// What an account reports about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// The balance.
    pub balance: i64,
    /// The lowest balance ever.
    pub lowest: i64,
    /// Messages applied.
    pub operations: u64,
}

#[mqless::actor]
impl Account {
    /// Adds money from outside the bank.
    pub fn deposit(&mut self, amount: i64) -> Result<i64, BankError> {
        if amount <= 0 {
            return Err(BankError::InvalidAmount(amount));
        }
        self.balance += amount;
        self.operations += 1;
        Ok(self.balance)
    }

    /// Takes money out of the bank, if the account holds enough.
    pub fn withdraw(&mut self, amount: i64) -> Result<i64, BankError> {
        self.debit(amount)?;
        Ok(self.balance)
    }

    /// Moves money to account `to`: the debit here and the deposit message there are
    /// committed together, or not at all.
    pub async fn transfer(
        &mut self,
        to: String,
        amount: i64,
        ctx: &mut Context,
    ) -> Result<i64, BankError> {
        self.debit(amount)?;
        // Logged inside the message's span: on Lambda the line carries the trace id of
        // whoever sent the transfer (see `mqless::trace`).
        tracing::info!(%to, amount, "transfer");
        ctx.actor::<Account>(to)?.deposit(amount).send().await?;
        Ok(self.balance)
    }

    /// The account's statement.
    pub fn statement(&self) -> Statement {
        Statement {
            balance: self.balance,
            lowest: self.lowest,
            operations: self.operations,
        }
    }

    fn debit(&mut self, amount: i64) -> Result<(), BankError> {
        if amount <= 0 {
            return Err(BankError::InvalidAmount(amount));
        }
        if self.balance < amount {
            return Err(BankError::InsufficientFunds {
                balance: self.balance,
                requested: amount,
            });
        }
        self.balance -= amount;
        self.lowest = self.lowest.min(self.balance);
        self.operations += 1;
        Ok(())
    }
}

/// The size of a bank run.
#[derive(Debug, Clone, Copy)]
pub struct BankConfig {
    /// Number of accounts.
    pub accounts: usize,
    /// Concurrent client tasks.
    pub tasks: usize,
    /// Operations per task.
    pub operations_per_task: usize,
    /// Money each account starts with.
    pub opening_balance: i64,
    /// Seed of the operation mix.
    pub seed: u64,
}

impl Default for BankConfig {
    fn default() -> Self {
        Self {
            accounts: 20,
            tasks: 200,
            operations_per_task: 25,
            opening_balance: 1_000,
            seed: 7,
        }
    }
}

/// What a bank run measured and checked.
#[derive(Debug, Clone)]
pub struct BankReport {
    /// Messages the actors processed (client messages plus transfer deposits).
    pub messages: u64,
    /// Wall time of the concurrent phase, until every transfer was delivered.
    pub elapsed: Duration,
    /// Money the bank should hold: openings + deposits - successful withdrawals.
    pub expected_total: i64,
    /// Money the accounts hold.
    pub actual_total: i64,
    /// The lowest balance any account ever had.
    pub lowest_balance: i64,
    /// Withdrawals and transfers refused for insufficient funds.
    pub refused: u64,
    /// Operations of each kind that succeeded: deposits, withdrawals, transfers.
    pub succeeded: [u64; 3],
}

impl BankReport {
    /// Messages per second over the concurrent phase.
    #[must_use]
    pub fn messages_per_second(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Whether money was conserved and no balance went negative.
    #[must_use]
    pub fn holds(&self) -> bool {
        self.expected_total == self.actual_total && self.lowest_balance >= 0
    }
}

/// Runs the bank on `runtime` (the embedded runtime with [`Account`] registered, or
/// Lambda functions over DynamoDB): opens the accounts, runs the concurrent tasks, waits
/// for every transfer, and checks the books.
///
/// # Errors
/// Any runtime error; a refused operation is an outcome, not an error.
pub async fn run<S: Actors>(
    runtime: std::sync::Arc<S>,
    config: BankConfig,
) -> Result<BankReport, Box<dyn std::error::Error + Send + Sync>> {
    // Accounts are named per run, so a run on a table that outlived earlier runs starts
    // from fresh accounts.
    let run_id = mqless::MessageId::generate(now_millis(), None);
    let names: Vec<String> = (0..config.accounts)
        .map(|i| format!("{run_id}-account-{i}"))
        .collect();
    for name in &names {
        runtime
            .client::<Account>(name.clone())?
            .deposit(config.opening_balance)
            .call()
            .await?;
    }
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(config.tasks);
    for task in 0..config.tasks {
        let runtime = runtime.clone();
        let names = names.clone();
        let mut rng = SplitMix(config.seed ^ (task as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            for _ in 0..config.operations_per_task {
                let from = &names[rng.below(names.len())];
                let account = runtime
                    .client::<Account>(from.clone())
                    .map_err(|e| e.to_string())?;
                let amount = 1 + rng.below(150) as i64;
                match rng.below(3) {
                    0 => {
                        account
                            .deposit(amount)
                            .call()
                            .await
                            .map_err(|e| e.to_string())?;
                        tally.deposited += amount;
                        tally.succeeded[0] += 1;
                    }
                    1 => match account.withdraw(amount).call().await {
                        Ok(_) => {
                            tally.withdrawn += amount;
                            tally.succeeded[1] += 1;
                        }
                        Err(AskError::Handler(BankError::InsufficientFunds { .. })) => {
                            tally.refused += 1
                        }
                        Err(other) => return Err(other.to_string()),
                    },
                    _ => {
                        let to = names[rng.below(names.len())].clone();
                        match account.transfer(to, amount).call().await {
                            Ok(_) => tally.succeeded[2] += 1,
                            Err(AskError::Handler(BankError::InsufficientFunds { .. })) => {
                                tally.refused += 1
                            }
                            Err(other) => return Err(other.to_string()),
                        }
                    }
                }
            }
            Ok::<_, String>(tally)
        }));
    }
    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await??;
        total.deposited += tally.deposited;
        total.withdrawn += tally.withdrawn;
        total.refused += tally.refused;
        for (sum, part) in total.succeeded.iter_mut().zip(tally.succeeded) {
            *sum += part;
        }
    }
    // Transfers' deposits are delivered after their batch commits; wait for all of them.
    runtime.settle().await?;
    let elapsed = started.elapsed();

    let mut actual_total = 0;
    let mut lowest_balance = i64::MAX;
    for name in &names {
        let statement = runtime
            .client::<Account>(name.clone())?
            .statement()
            .call()
            .await?;
        actual_total += statement.balance;
        lowest_balance = lowest_balance.min(statement.lowest);
    }
    let client_messages = (config.tasks * config.operations_per_task) as u64;
    Ok(BankReport {
        messages: client_messages + total.succeeded[2],
        elapsed,
        expected_total: config.opening_balance * config.accounts as i64 + total.deposited
            - total.withdrawn,
        actual_total,
        lowest_balance,
        refused: total.refused,
        succeeded: total.succeeded,
    })
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Debug, Default)]
struct Tally {
    deposited: i64,
    withdrawn: i64,
    refused: u64,
    succeeded: [u64; 3],
}

/// A small seeded generator, so a run's operation mix is reproducible.
struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}
