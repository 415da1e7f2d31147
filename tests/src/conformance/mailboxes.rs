//! What a caller outside an actor reads of its mailbox (`Store::mailbox_head`): the first
//! message's id and due time, by which `Remote::settle` tells a message to wait for from
//! one scheduled for later.

use mqless::store::{MailboxItem, QueuedHead, Store};
use mqless::wire::Envelope;
use mqless::{Limits, MessageId};

use super::{address, NOW};

pub(super) async fn mailbox_heads(store: &dyn Store) {
    let at = address("heads");
    assert_eq!(
        store.mailbox_head(&at).await.unwrap(),
        None,
        "an empty mailbox"
    );

    // The id to run now first: a process's ids grow, whatever time they are given.
    let now = MailboxItem {
        id: MessageId::generate(NOW, None),
        envelope: Envelope::new(b"now".to_vec(), false, None)
            .encode(&Limits::DEFAULT)
            .unwrap(),
    };
    let due = NOW + 3_600_000;
    let mut scheduled = Envelope::new(b"later".to_vec(), false, None);
    scheduled.at = Some(due);
    let later = MailboxItem {
        id: MessageId::generate(due, None),
        envelope: scheduled.encode(&Limits::DEFAULT).unwrap(),
    };
    store.enqueue(&at, &later).await.unwrap();
    let head = store.mailbox_head(&at).await.unwrap();
    assert_eq!(
        head,
        Some(QueuedHead {
            id: later.id,
            due_at: Some(due)
        }),
        "a scheduled message, with when it is due"
    );
    assert!(head.unwrap().waits(NOW) && !head.unwrap().waits(due));

    store.enqueue(&at, &now).await.unwrap();
    assert_eq!(
        store.mailbox_head(&at).await.unwrap(),
        Some(QueuedHead {
            id: now.id,
            due_at: None
        }),
        "the first message in id order, to run now"
    );
}
