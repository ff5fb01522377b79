//! The SMTP reply codes the dialogue sends or reacts to (RFC 5321 §4.2.3, and
//! docs/xcrypt.md §4.4 for the XCRYPT ones), by name.

/// `220`: after STARTTLS, TLS starts (RFC 3207).
pub const READY_TO_START_TLS: u16 = 220;
/// `250`: done; EHLO's reply and every positive XCRYPT reply.
pub const OK: u16 = 250;
/// `354`: after DATA, the message body follows.
pub const START_MAIL_INPUT: u16 = 354;
/// `454`: XCRYPT refused for a temporary local failure (no key, no randomness).
pub const TEMPORARY_FAILURE: u16 = 454;
/// `500`: command not recognised (a server without XCRYPT).
pub const UNRECOGNIZED: u16 = 500;
/// `501`: XCRYPT's parameters are malformed (syntax, key, nonce, length).
pub const SYNTAX_ERROR: u16 = 501;
/// `502`: command not implemented (a server without XCRYPT).
pub const NOT_IMPLEMENTED: u16 = 502;
/// `503`: XCRYPT in the wrong state (before EHLO, in a transaction, once encrypted).
pub const BAD_SEQUENCE: u16 = 503;
/// `504`: XCRYPT names no version the server offers.
pub const NO_COMMON_VERSION: u16 = 504;

/// Whether `code` is a positive completion (2xx).
pub const fn is_positive(code: u16) -> bool {
    code >= 200 && code < 300
}
