//! The arena grows with the players, through the real server: every client is told the new
//! size in its snapshots (and a newcomer in its welcome), and ships stay inside it.

mod common;

use common::{start_server, wait_for_snapshot};
use skirmish::client::GameClient;

#[tokio::test]
async fn the_arena_grows_as_players_join_and_every_client_is_told() {
    // 480 000 units² at first; eight players need 800 000.
    let server = start_server(&["--arena", "800x600", "--area-per-player", "100000"]).await;
    let url = server.ws_url();
    let (mut first, welcome) = GameClient::join(&url, "first").await.unwrap();
    assert_eq!(
        (welcome.params.arena_width, welcome.params.arena_height),
        (800.0, 600.0)
    );
    let start = wait_for_snapshot(&mut first, "a first snapshot", |_| true).await;
    assert_eq!((start.arena_width, start.arena_height), (800.0, 600.0));
    let mut others = Vec::new();
    for i in 0..7 {
        others.push(GameClient::join(&url, &format!("p{i}")).await.unwrap().0);
    }

    let grown = wait_for_snapshot(&mut first, "a grown arena", |s| s.arena_width > 800.0).await;
    let area = grown.arena_width * grown.arena_height;
    assert!(area >= 8.0 * 100_000.0, "{area}");
    let aspect = grown.arena_width / grown.arena_height;
    assert!((aspect - 800.0 / 600.0).abs() < 0.02, "{aspect}");
    for other in &mut others {
        let seen = wait_for_snapshot(other, "the grown arena", |s| {
            s.arena_width == grown.arena_width
        })
        .await;
        assert_eq!(seen.arena_height, grown.arena_height);
        let radius = 18.0;
        for ship in &seen.players {
            assert!(ship.x >= radius && ship.x <= seen.arena_width - radius);
            assert!(ship.y >= radius && ship.y <= seen.arena_height - radius);
        }
    }
    let (_late, welcome) = GameClient::join(&url, "late").await.unwrap();
    assert_eq!(
        (welcome.params.arena_width, welcome.params.arena_height),
        (grown.arena_width, grown.arena_height),
        "a newcomer is welcomed with the arena as it is"
    );
    server.stop().await;
}
