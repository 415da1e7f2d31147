//! Where a table keeps each kind of item: the key layouts of protocol v1 and v2, and the
//! transitional layout that moves a table in use from one to the other.

use crate::id::{ActorType, Address};

/// Where a table keeps each actor's mailbox and its clients' replies (docs/wire.md,
/// "Table"). Every process that reads or writes a table (functions, clients, the
/// `mqless` command) must use the table's layout: `MQLESS_KEY_LAYOUT` (`v1`, `v2` or
/// `v1-to-v2`) sets it for [`Environment`](crate::aws::Environment),
/// [`DynamoStore::with_key_layout`] in code.
///
/// ```
/// use mqless_runtime::aws::dynamodb::schema::KeyLayout;
/// use mqless_runtime::id::Address;
///
/// let layout: KeyLayout = "v2".parse().unwrap();
/// let counter = Address::parse("Counter/c1").unwrap();
/// assert_eq!(layout.mailbox_partition(&counter), "m/Counter/c1");
/// assert_eq!(KeyLayout::default().mailbox_partition(&counter), "Counter/c1");
/// let moving: KeyLayout = "v1-to-v2".parse().unwrap();
/// assert_eq!(moving.mailbox_partition(&counter), "m/Counter/c1", "writes v2");
/// assert_eq!(moving.legacy_mailbox(&counter).as_deref(), Some("Counter/c1"), "reads v1 too");
/// assert!("v3".parse::<KeyLayout>().unwrap_err().contains("`v1`"));
/// ```
///
/// [`DynamoStore::with_key_layout`]: super::DynamoStore::with_key_layout
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyLayout {
    /// Protocol v1, the default: messages (`m#<id>`) in the actor's own partition,
    /// `type/id`, beside its record, replies and dead letters. Whoever may queue a
    /// message may write any of them.
    #[default]
    V1,
    /// Mailboxes and replies in partitions of their own: the message `m#<id>` of actor
    /// `type/id` is in partition `m/type/id`, and the reply `r#<id>` to an ask that
    /// client `asker` made of it in `r/type/id/asker`. Senders need `PutItem` on
    /// `m/type/*` only, a client reads its own replies only (`r/*/${aws:userid}`), and
    /// `mqless template --key-layout v2` grants no more.
    V2,
    /// The way from v1 to v2 for a table in use: writes as v2 does, and reads both
    /// mailboxes of an actor, v1's partition first, then v2's, merged by id (a message
    /// moved between the two reads is seen twice and run once). A consumed message is
    /// deleted under v1's key, then v2's, so that a move cannot bring it back. Deploy
    /// every process with it, run `mqless migrate` (which moves v1's messages into v2's
    /// partitions), then deploy with [`KeyLayout::V2`]. Its IAM is v2's with each
    /// function's own v1 partitions, which v2 grants too.
    V1ToV2,
}

/// The partition-key prefix of mailboxes in [`KeyLayout::V2`].
pub const MAILBOX_PARTITION: &str = "m/";
/// The partition-key prefix of replies in [`KeyLayout::V2`].
pub const REPLY_PARTITION: &str = "r/";
/// The partition-key prefix of per-actor subscriptions in [`KeyLayout::V2`]:
/// `t/<topic>/<subscriber type>`.
pub const SUBSCRIPTION_PARTITION: &str = "t/";

impl KeyLayout {
    /// The variable that sets the layout for [`Environment`](crate::aws::Environment).
    pub const VARIABLE: &'static str = "MQLESS_KEY_LAYOUT";

    /// The layout's name: `v1`, `v2` or `v1-to-v2`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
            Self::V1ToV2 => "v1-to-v2",
        }
    }

    /// Whether the layout keeps mailboxes and client replies apart, as v2 does (v2, and
    /// the transitional layout, which writes as v2 does): what IAM can isolate.
    #[must_use]
    pub fn apart(self) -> bool {
        !matches!(self, Self::V1)
    }

    /// The partition key of `address`'s mailbox, where messages are queued.
    #[must_use]
    pub fn mailbox_partition(self, address: &Address) -> String {
        if self.apart() {
            format!("{MAILBOX_PARTITION}{address}")
        } else {
            address.to_string()
        }
    }

    /// In the transitional layout, the partition of `address`'s v1 mailbox, which is
    /// read (before [`Self::mailbox_partition`]) and cleaned up but never written to.
    #[must_use]
    pub fn legacy_mailbox(self, address: &Address) -> Option<String> {
        (self == Self::V1ToV2).then(|| address.to_string())
    }

    /// The partitions of `address`'s mailbox, in the order a drain reads them.
    pub(super) fn mailboxes(self, address: &Address) -> Vec<String> {
        self.legacy_mailbox(address)
            .into_iter()
            .chain([self.mailbox_partition(address)])
            .collect()
    }

    /// The partition key of the replies to the asks `asker` made of `address`: in v2,
    /// `r/type/id/asker`, which only `asker`'s IAM identity may read (the asker, which
    /// holds no `/`, is the key's last segment, as `r/*/${aws:userid}` needs). In v1, and
    /// for an ask that named no asker, the actor's own partition.
    ///
    /// ```
    /// use mqless_runtime::aws::KeyLayout;
    /// use mqless_runtime::id::Address;
    ///
    /// let counter = Address::parse("Counter/c1").unwrap();
    /// let asker = Some("AROAEXAMPLE:alice");
    /// assert_eq!(KeyLayout::V2.reply_partition(&counter, asker), "r/Counter/c1/AROAEXAMPLE:alice");
    /// assert_eq!(KeyLayout::V1.reply_partition(&counter, asker), "Counter/c1");
    /// assert_eq!(KeyLayout::V2.reply_partition(&counter, None), "Counter/c1");
    /// ```
    #[must_use]
    pub fn reply_partition(self, address: &Address, asker: Option<&str>) -> String {
        match asker {
            Some(asker) if self.apart() => format!("{REPLY_PARTITION}{address}/{asker}"),
            _ => address.to_string(),
        }
    }

    /// The partition key of the per-actor subscriptions of `subscriber_type` to `topic`
    /// (the topic's name) where subscriptions are apart: `t/<topic>/<type>`, which
    /// only that type's function may write (`t/*/<type>`) and the events function
    /// reads. Sort key: `<subscriber id>#<method>`.
    ///
    /// ```
    /// use mqless_runtime::aws::KeyLayout;
    /// use mqless_runtime::id::ActorType;
    ///
    /// let watcher = ActorType::new("Watcher").unwrap();
    /// assert_eq!(KeyLayout::V2.subscription_partition("orders", &watcher), "t/orders/Watcher");
    /// ```
    #[must_use]
    pub fn subscription_partition(self, topic: &str, subscriber_type: &ActorType) -> String {
        format!("{SUBSCRIPTION_PARTITION}{topic}/{subscriber_type}")
    }

    /// The form of a mailbox's partition key, for messages: `type/id` or `m/type/id`.
    #[must_use]
    pub fn mailbox_pattern(self) -> &'static str {
        match self {
            Self::V1 => "type/id",
            Self::V2 => "m/type/id",
            Self::V1ToV2 => "type/id or m/type/id",
        }
    }

    /// The actor whose mailbox partition is `pk` in this layout (the audit's scan reads
    /// the mailbox items of every partition); `None` for a key of the other layout, or
    /// none of MQLess. Ids hold no `/`, so `m/type/id` is never a v1 address.
    pub(super) fn mailbox_owner(self, pk: &str) -> Option<Address> {
        let v2 = || Address::parse(pk.strip_prefix(MAILBOX_PARTITION)?).ok();
        match self {
            Self::V1 => Address::parse(pk).ok(),
            Self::V2 => v2(),
            Self::V1ToV2 => v2().or_else(|| Address::parse(pk).ok()),
        }
    }
}

impl std::fmt::Display for KeyLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for KeyLayout {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "v1" | "V1" | "1" => Ok(Self::V1),
            "v2" | "V2" | "2" => Ok(Self::V2),
            "v1-to-v2" | "V1-to-V2" => Ok(Self::V1ToV2),
            other => Err(format!(
                "unknown key layout {other:?}: `v1` (the default), `v2` (mailboxes and replies in partitions of their own) or `v1-to-v2` (a v1 table on its way to v2, see `mqless migrate`)"
            )),
        }
    }
}
