//! Evolving an actor's state and messages across deploys, as docs/guide/evolving.md
//! says: fixtures of what deployed versions wrote catch a breaking
//! change in a test, and the documented serde recipes keep old bytes readable.

use mqless::testing::Fixtures;
use mqless_tests::quarantine::{ProfileV1, ProfileV1Message, ProfileV2, ProfileV3};
use serde::{Deserialize, Serialize};

fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mqless-fixtures-{name}-{}",
        mqless::MessageId::generate(1, None)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn fixtures_catch_a_breaking_state_change_before_deploy() {
    let dir = fresh_dir("profile");
    // Version 1 records what it writes.
    let checked = Fixtures::<ProfileV1>::new(&dir)
        .state("v1", &ProfileV1 { name: "Ada".into() })
        .message(
            "v1-rename",
            &ProfileV1Message::Rename {
                name: "Grace".into(),
            },
        )
        .check()
        .unwrap();
    assert_eq!(checked, 2);
    assert!(dir.join("Profile/state/v1.msgpack").exists());

    // Version 2 adds a field without a default: the test fails, naming file and field.
    let error = Fixtures::<ProfileV2>::new(&dir).check().unwrap_err();
    assert_eq!(error.problems.len(), 1, "{error}");
    assert!(
        error.problems[0].contains("state/v1.msgpack") && error.problems[0].contains("age"),
        "{error}"
    );
    assert!(error.to_string().contains("quarantined"), "{error}");

    // Version 3 gives it a default: old state and old messages decode.
    assert_eq!(Fixtures::<ProfileV3>::new(&dir).check(), Ok(2));
    // Recording again never overwrites what version 1 wrote.
    let again = Fixtures::<ProfileV3>::new(&dir)
        .state("v1", &ProfileV3::default())
        .check();
    assert_eq!(again, Ok(2));
    let bytes = std::fs::read(dir.join("Profile/state/v1.msgpack")).unwrap();
    let old: ProfileV1 = mqless::wire::decode(&bytes, "state", usize::MAX, 64).unwrap();
    assert_eq!(old.name, "Ada");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn fixture_names_are_checked() {
    let error = Fixtures::<ProfileV1>::new(fresh_dir("names"))
        .state("../escape", &ProfileV1::default())
        .check()
        .unwrap_err();
    assert!(error.problems[0].contains("fixture name"), "{error}");
}

/// The guide's recipe (docs/guide/evolving.md) for a change serde attributes cannot express (here `score`
/// changes from a number to text): decode through an untagged enum of the versions.
mod changed_type {
    use super::*;

    /// Version 1.
    #[derive(Debug, Default, Serialize, Deserialize)]
    pub struct PlayerV1 {
        pub score: u32,
    }

    /// Version 2: reads version 1's bytes and its own.
    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(from = "PlayerVersions")]
    pub struct Player {
        pub score: String,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum PlayerVersions {
        V2 { score: String },
        V1 { score: u32 },
    }

    impl From<PlayerVersions> for Player {
        fn from(version: PlayerVersions) -> Self {
            match version {
                PlayerVersions::V2 { score } => Self { score },
                PlayerVersions::V1 { score } => Self {
                    score: score.to_string(),
                },
            }
        }
    }

    #[mqless::actor(name = "Player")]
    impl PlayerV1 {
        pub fn set(&mut self, score: u32) {
            self.score = score;
        }
    }

    #[mqless::actor(name = "Player")]
    impl Player {
        pub fn set(&mut self, score: String) {
            self.score = score;
        }
    }

    #[test]
    fn a_versioned_from_reads_every_version() {
        let dir = fresh_dir("player");
        Fixtures::<PlayerV1>::new(&dir)
            .state("v1", &PlayerV1 { score: 7 })
            .check()
            .unwrap();
        let checked = Fixtures::<Player>::new(&dir)
            .state("v2", &Player { score: "8".into() })
            .check()
            .unwrap();
        assert_eq!(checked, 2);
        let bytes = std::fs::read(dir.join("Player/state/v1.msgpack")).unwrap();
        let player: Player = mqless::wire::decode(&bytes, "state", usize::MAX, 64).unwrap();
        assert_eq!(player.score, "7");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
