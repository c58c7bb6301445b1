//! The one reading of a caught panic's payload, for every module that
//! catches user code's panics (listeners, tasks, pipeline stages).
use std::any::Any;

/// The panic's message: the `&str` or `String` that `panic!` carries, or
/// `<non-string panic payload>` for anything else (`panic_any`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("<non-string panic payload>")
    }
}
