//! Golden tests: the exact JSON of every message. A failure here means a change would break
//! clients already deployed; change DESIGN.md and the changelog first, then these strings.

use serde_json::{Value, json};
use shared::{
    Change, ChangeRequest, ClientMessage, CounterInfo, CounterMeta, CounterName, CounterState,
    Direction, ErrorBody, ErrorCode, ProtocolError, Request, Role, ServerMessage,
};

/// The change a frame decodes to; panics on any other request.
fn change_of(text: &str) -> Change {
    match ClientMessage::decode(text).unwrap() {
        Request::Change(change) => change,
        other => panic!("{text} decoded to {other:?}"),
    }
}

fn state(value: i64, version: u64) -> CounterState {
    CounterState {
        name: CounterName::global(),
        value,
        version,
    }
}

fn op(id: &str) -> Option<shared::OpId> {
    Some(id.to_owned().try_into().unwrap())
}

#[test]
fn server_frames() {
    let cases = [
        (
            ServerMessage::State(state(42, 17)),
            r#"{"type":"state","name":"global","value":42,"version":17}"#,
        ),
        (
            ServerMessage::Ack {
                op_id: op("c1-17"),
                value: 42,
                version: 17,
            },
            r#"{"type":"ack","op_id":"c1-17","value":42,"version":17}"#,
        ),
        (
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                message: "slow down".into(),
                op_id: op("c1-18"),
            },
            r#"{"type":"error","code":"rate_limited","message":"slow down","op_id":"c1-18"}"#,
        ),
        (
            ServerMessage::Presence { online: 12 },
            r#"{"type":"presence","online":12}"#,
        ),
    ];
    for (message, text) in cases {
        assert_eq!(message.to_json(), text);
        assert_eq!(
            serde_json::from_str::<ServerMessage>(text).unwrap(),
            message
        );
    }
}

#[test]
fn client_frames() {
    let increment = ClientMessage::Increment(ChangeRequest {
        by: Some(1),
        op_id: Some("c1-17".into()),
        label: None,
    });
    let text = r#"{"type":"increment","by":1,"op_id":"c1-17"}"#;
    assert_eq!(serde_json::to_string(&increment).unwrap(), text);
    let change = change_of(text);
    assert_eq!((change.direction, change.by), (Direction::Increment, 1));
    assert_eq!(change.op_id, op("c1-17"));

    let change = change_of(r#"{"type":"decrement","by":5,"op_id":"c1-18"}"#);
    assert_eq!(change.delta(), -5);
    let change = change_of(r#"{"type":"increment"}"#);
    assert_eq!((change.delta(), change.op_id), (1, None));
}

#[test]
fn version_2_client_frames() {
    let text = r#"{"type":"increment","by":1,"op_id":"c1-17","label":"north door"}"#;
    let labelled = ClientMessage::Increment(ChangeRequest {
        by: Some(1),
        op_id: Some("c1-17".into()),
        label: Some("north door".into()),
    });
    assert_eq!(serde_json::to_string(&labelled).unwrap(), text);
    assert_eq!(change_of(text).label.as_deref(), Some("north door"));
    assert_eq!(
        ClientMessage::decode(r#"{"type":"auth","key":"k-1"}"#).unwrap(),
        Request::Auth("k-1".into())
    );
    let Request::Undo(undo) =
        ClientMessage::decode(r#"{"type":"undo","op_id":"c1-19","undoes":"c1-17"}"#).unwrap()
    else {
        panic!("not an undo");
    };
    assert_eq!(
        (undo.op_id, undo.undoes),
        (op("c1-19"), op("c1-17").unwrap())
    );
    for (text, id) in [
        (r#"{"type":"undo","op_id":"u1"}"#, Some("u1")),
        (r#"{"type":"undo","op_id":"u2","undoes":""}"#, Some("u2")),
        (r#"{"type":"auth"}"#, None),
        (r#"{"type":"auth","key":7}"#, None),
        (
            r#"{"type":"increment","op_id":"l1","label":"123456789012345678901234567890123"}"#,
            Some("l1"),
        ),
    ] {
        let (err, op_id) = ClientMessage::decode(text).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadRequest, "{text}");
        assert_eq!(op_id, id.and_then(op), "{text}");
    }
}

#[test]
fn version_2_server_frames() {
    let cases = [
        (
            ServerMessage::Access { role: Role::Viewer },
            r#"{"type":"access","role":"viewer"}"#,
        ),
        (
            ServerMessage::Access { role: Role::Staff },
            r#"{"type":"access","role":"staff"}"#,
        ),
        (
            ServerMessage::Access { role: Role::Owner },
            r#"{"type":"access","role":"owner"}"#,
        ),
        (
            ServerMessage::Meta(CounterMeta {
                title: Some("Main entrance".into()),
                capacity: Some(200),
                warn_at: Some(180),
            }),
            r#"{"type":"meta","title":"Main entrance","capacity":200,"warn_at":180}"#,
        ),
        (
            ServerMessage::Meta(CounterMeta::default()),
            r#"{"type":"meta"}"#,
        ),
    ];
    for (message, text) in cases {
        assert_eq!(message.to_json(), text);
        assert_eq!(
            serde_json::from_str::<ServerMessage>(text).unwrap(),
            message
        );
    }
    let info = CounterInfo {
        state: state(42, 17),
        meta: CounterMeta {
            title: Some("Hall".into()),
            capacity: Some(10),
            warn_at: Some(9),
        },
    };
    assert_eq!(
        serde_json::to_string(&info).unwrap(),
        r#"{"name":"global","value":42,"version":17,"title":"Hall","capacity":10,"warn_at":9}"#
    );
    let plain = CounterInfo {
        state: state(1, 1),
        meta: CounterMeta::default(),
    };
    assert_eq!(
        serde_json::to_string(&plain).unwrap(),
        r#"{"name":"global","value":1,"version":1}"#,
        "an open counter's answer is version 1's"
    );
}

#[test]
fn state_is_the_rest_answer_and_the_pubsub_payload() {
    let text = r#"{"name":"global","value":-3,"version":9}"#;
    assert_eq!(serde_json::to_string(&state(-3, 9)).unwrap(), text);
    assert_eq!(
        serde_json::from_str::<CounterState>(text).unwrap(),
        state(-3, 9)
    );
    let extremes = state(i64::MIN, u64::MAX);
    let round_trip: CounterState =
        serde_json::from_str(&serde_json::to_string(&extremes).unwrap()).unwrap();
    assert_eq!(round_trip, extremes);
}

#[test]
fn error_body() {
    let body = ErrorBody::from(ProtocolError::new(ErrorCode::InvalidName, "bad name"));
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        json!({"error": {"code": "invalid_name", "message": "bad name"}})
    );
    let codes = [
        (ErrorCode::BadRequest, "bad_request"),
        (ErrorCode::InvalidName, "invalid_name"),
        (ErrorCode::Overflow, "overflow"),
        (ErrorCode::RateLimited, "rate_limited"),
        (ErrorCode::TooLarge, "too_large"),
        (ErrorCode::Unavailable, "unavailable"),
        (ErrorCode::ForbiddenOrigin, "forbidden_origin"),
        (ErrorCode::NotFound, "not_found"),
        (ErrorCode::MethodNotAllowed, "method_not_allowed"),
        (ErrorCode::Internal, "internal"),
        (ErrorCode::UnknownHost, "unknown_host"),
        (ErrorCode::RequestTimeout, "request_timeout"),
        (ErrorCode::Unauthorized, "unauthorized"),
        (ErrorCode::Forbidden, "forbidden"),
        (ErrorCode::NameTaken, "name_taken"),
        (ErrorCode::Conflict, "conflict"),
        (ErrorCode::LimitReached, "limit_reached"),
    ];
    for (code, text) in codes {
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            Value::String(text.into())
        );
        assert_eq!(code.as_str(), text);
    }
}

#[test]
fn bad_frames_are_refused_with_the_op_id_when_readable() {
    let cases = [
        ("not json", None),
        (r#"{"type":"reset","op_id":"a1"}"#, Some("a1")),
        (r#"{"by":1,"op_id":"a2"}"#, Some("a2")),
        (r#"{"type":"increment","by":0,"op_id":"a3"}"#, Some("a3")),
        (r#"{"type":"increment","by":-4,"op_id":"a4"}"#, Some("a4")),
        (r#"{"type":"increment","by":1.5,"op_id":"a5"}"#, Some("a5")),
        (r#"{"type":"increment","by":"1","op_id":"a6"}"#, Some("a6")),
        (
            r#"{"type":"increment","by":1000001,"op_id":"a7"}"#,
            Some("a7"),
        ),
        (
            r#"{"type":"increment","extra":true,"op_id":"a8"}"#,
            Some("a8"),
        ),
        (r#"{"type":"increment","op_id":17}"#, None),
        (r#"{"type":"increment","op_id":""}"#, None),
        (r#"[1,2,3]"#, None),
    ];
    for (text, id) in cases {
        let (err, op_id) = ClientMessage::decode(text).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadRequest, "{text}");
        assert_eq!(op_id, id.and_then(op), "{text}");
    }
    let long = format!(r#"{{"type":"increment","op_id":"{}"}}"#, "x".repeat(65));
    assert_eq!(
        ClientMessage::decode(&long).unwrap_err().0.code,
        ErrorCode::BadRequest
    );
}

#[test]
fn rest_bodies_must_be_objects() {
    let request = ChangeRequest::decode(br#"{"by":3,"op_id":"r1"}"#).unwrap();
    assert_eq!(
        (request.by, request.op_id.as_deref()),
        (Some(3), Some("r1"))
    );
    assert_eq!(
        ChangeRequest::decode(b"{}").unwrap(),
        ChangeRequest::default()
    );
    for body in [
        &b"[1]"[..],
        b"1",
        b"\"x\"",
        b"null",
        b"{",
        br#"{"by":1,"x":2}"#,
    ] {
        assert_eq!(
            ChangeRequest::decode(body).unwrap_err().code,
            ErrorCode::BadRequest
        );
    }
}
