//! The controller's HTTP request parsers (`unseal::http::request`): the body of verify
//! and reencrypt (`parse_one`) and the reencrypt query (`RecipientChange::parse`). What a
//! caller sees of a refusal is the response body, so that is what is checked.

use axum::response::IntoResponse;
use seal_core::documents::{self, Format};
use seal_core::keys::parse_recipient;
use seal_core::names;
use serde_json::Value;
use unseal::http::ApiProblem;
use unseal::http::request::{RecipientChange, parse_one};

use super::common::{as_json, assert_no_identity_echo};

/// The status and the `message` of the JSON body a refusal is answered with.
fn answer(problem: ApiProblem) -> (u16, String) {
    let response = problem.into_response();
    let status = response.status().as_u16();
    let body = futures::executor::block_on(axum::body::to_bytes(response.into_body(), 1 << 20))
        .expect("a refusal's body is in memory");
    let json: Value = serde_json::from_slice(&body).expect("a refusal is JSON");
    assert_eq!(json["ok"], false);
    assert_eq!(json["reason"], "BadRequest");
    let message = json["message"].as_str().expect("a message").to_owned();
    (status, message)
}

/// `parse_one` on an arbitrary body: what it accepts is exactly one valid SealedSecret
/// with a namespace when its scope binds one, in the format the body was in, and that
/// object written out again parses to itself; a refusal is a 400 whose message never
/// echoes an age identity from the body.
pub fn http_body(data: &[u8]) {
    match parse_one(data) {
        Ok((sealed, format)) => {
            let text = std::str::from_utf8(data).expect("an accepted body is UTF-8");
            assert_eq!(format, Format::of(text));
            let name = sealed.metadata.name.as_deref().expect("a name");
            assert!(names::check_object_name(name).is_ok());
            if sealed.spec.scope.binds_namespace() {
                assert!(sealed.metadata.namespace.is_some());
            }
            let written = documents::render(&[&sealed], format).expect("renders");
            let (again, again_format) = parse_one(written.as_bytes())
                .unwrap_or_else(|p| panic!("{:?} on\n{}", answer(p), &*written));
            assert_eq!(
                as_json(&again),
                as_json(&sealed),
                "round trip of\n{}",
                &*written
            );
            assert_eq!(again_format, format);
        }
        Err(problem) => {
            let (status, message) = answer(problem);
            assert_eq!(status, 400);
            assert_no_identity_echo(data, &message);
        }
    }
}

/// `RecipientChange::parse` on an arbitrary query: what it accepts lists valid age
/// recipients only, one per `add=`/`remove=` pair, and its canonical query parses to the
/// same change; a refusal is a 400 with one of the fixed messages (never the input).
pub fn http_query(data: &[u8]) {
    let query = String::from_utf8_lossy(data);
    match RecipientChange::parse(Some(&query)) {
        Ok(change) => {
            let pairs = query.split('&').filter(|p| !p.is_empty()).count();
            assert_eq!(change.add.len() + change.remove.len(), pairs);
            for recipient in change.add.iter().chain(&change.remove) {
                assert!(parse_recipient(recipient).is_ok(), "{recipient:?}");
            }
            let canonical: Vec<String> = (change.add.iter().map(|r| format!("add={r}")))
                .chain(change.remove.iter().map(|r| format!("remove={r}")))
                .collect();
            let again = RecipientChange::parse(Some(&canonical.join("&")))
                .unwrap_or_else(|p| panic!("{:?}", answer(p)));
            assert_eq!(again, change);
        }
        Err(problem) => {
            let (status, message) = answer(problem);
            assert_eq!(status, 400);
            let fixed = [
                "AGE-SECRET-KEY-1",
                "not-a-recipient",
                "age1notvalid",
                "age1wkhm4lujjhde4zaq8s0jd48qqthgljl5j3l9etu06h8704gxzaqs968m7",
            ]
            .map(|bad| parse_recipient(bad).expect_err("refused"));
            let known = message == "unknown query parameter (only add= and remove=)"
                || ["add", "remove"]
                    .iter()
                    .any(|name| fixed.iter().any(|p| message == format!("{name}: {p}")));
            assert!(known, "not a fixed message: {message:?}");
            assert_no_identity_echo(data, &message);
        }
    }
    assert_eq!(
        RecipientChange::parse(None).ok(),
        Some(RecipientChange::default())
    );
}
