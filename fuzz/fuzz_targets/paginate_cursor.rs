//! Cursor token decoding on arbitrary input: never panics; a token issued
//! for one query never decodes for another; under a signing key only
//! tokens the codec itself wrote decode, and they decode to their key.
#![no_main]

use arbitrary::Arbitrary;
use latchwork::paginate::{CursorCodec, Error, Query};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    token: String,
    raw: Vec<u8>,
    key: (u64, String),
    filter_a: String,
    filter_b: String,
    descending: bool,
}

fuzz_target!(|input: Input| {
    let plain = CursorCodec::unsigned();
    let signed = CursorCodec::signed(b"fuzz signing key").expect("non-empty key");
    let a = Query::ascending().with_filter(input.filter_a.clone());
    let b = if input.descending {
        Query::descending().with_filter(input.filter_b.clone())
    } else {
        Query::ascending().with_filter(input.filter_b.clone())
    };
    let same_query = a == b;

    // Arbitrary text and arbitrary bytes (as base64url) never panic.
    let raw_token = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&input.raw)
    };
    for token in [input.token.as_str(), raw_token.as_str()] {
        let _ = plain.decode::<(u64, String)>(&a, token);
        let _ = plain.decode::<u64>(&a, token);
        let _ = plain.decode::<String>(&b, token);
        if let Ok(key) = signed.decode::<(u64, String)>(&a, token) {
            // Only a token this codec wrote verifies: it must be that one.
            assert_eq!(
                signed.encode(&a, &key).as_deref(),
                Ok(token),
                "forged signed token accepted"
            );
        }
    }

    // Tokens for query a never decode for a different query b.
    for codec in [&plain, &signed] {
        // Every token the codec writes is one it reads back; a key too long
        // for that is refused up front.
        let token = match codec.encode(&a, &input.key) {
            Ok(token) => token,
            Err(Error::CursorTooLong { len, max }) => {
                assert!(len > max);
                continue;
            }
            Err(e) => panic!("unexpected encode error {e}"),
        };
        assert_eq!(
            codec.decode::<(u64, String)>(&a, &token).as_ref(),
            Ok(&input.key)
        );
        let other = codec.decode::<(u64, String)>(&b, &token);
        if same_query {
            assert!(other.is_ok());
        } else if codec.is_signed() || a.fingerprint() != b.fingerprint() {
            // Signed: the tag covers the whole query. Unsigned: bound by the
            // 64-bit fingerprint, so only a hash collision could pass.
            assert!(
                matches!(
                    other,
                    Err(Error::CursorQueryMismatch | Error::BadCursorSignature)
                ),
                "token for {a:?} decoded for {b:?}"
            );
        }
    }
});
