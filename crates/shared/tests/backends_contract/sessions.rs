//! Contract checks of the session registry: live or ended until their TTL, and shared between
//! instances.

use super::*;

pub async fn sessions_are_live_or_ended_until_their_ttl(f: Fixture) {
    let state = |sid: &'static str| {
        let sessions = f.sessions.clone();
        async move { sessions.session_state(sid).await.unwrap() }
    };
    assert_eq!(state("sid-a").await, SessionState::Unknown);
    f.sessions
        .open_session("sid-a", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(state("sid-a").await, SessionState::Live);
    f.sessions
        .revoke_session("sid-a", Duration::from_secs(60))
        .await
        .unwrap();
    // A token issued while the logout happened does not bring the session back.
    f.sessions
        .open_session("sid-a", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(state("sid-a").await, SessionState::Ended);
    f.sessions
        .open_session("sid-b", Duration::from_millis(150))
        .await
        .unwrap();
    // An entry with no lifetime left is accepted and ends at once.
    f.sessions
        .revoke_session("sid-c", Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(state("sid-b").await, SessionState::Live);
    assert_eq!(state("sid-other").await, SessionState::Unknown);
    let sessions = f.sessions.clone();
    eventually("sid-b to be forgotten", Duration::from_secs(3), || {
        let sessions = sessions.clone();
        async move { sessions.session_state("sid-b").await.unwrap() == SessionState::Unknown }
    })
    .await;
    assert_eq!(state("sid-a").await, SessionState::Ended);
}

pub async fn sessions_are_shared(f: Fixture) {
    f.sessions
        .open_session("sid-live", Duration::from_secs(60))
        .await
        .unwrap();
    f.sessions
        .revoke_session("sid-shared", Duration::from_secs(60))
        .await
        .unwrap();
    let other = &f.sessions2;
    assert_eq!(
        other.session_state("sid-live").await.unwrap(),
        SessionState::Live
    );
    assert_eq!(
        other.session_state("sid-shared").await.unwrap(),
        SessionState::Ended
    );
    assert_eq!(
        other.session_state("sid-else").await.unwrap(),
        SessionState::Unknown
    );
}
