//! The contract between server and clients: message types ([`messages`]), their binary encoding
//! ([`codec`], and for snapshots the delta format and the client's replica in [`snapshot`]), the
//! validation rules both sides share, and why a connection closes ([`close`]: the close codes
//! PROTOCOL.md lists). Pure: no tokio, no sockets, no clock.
//! `docs/PROTOCOL.md` is the normative description; `tests/vectors/protocol_v9.json` pins it.

pub mod close;
pub mod codec;
pub mod messages;
mod name;
pub mod rooms;
pub mod snapshot;

pub use close::CloseReason;
pub use codec::{
    DecodeError, EncodeError, MAX_CLIENT_MESSAGE_BYTES, MAX_SERVER_MESSAGE_BYTES,
    decode_client_message, decode_server_message, decode_server_message_with,
    encode_client_message, encode_client_message_into, encode_server_message,
    encode_server_message_into,
};
pub use messages::*;
pub use name::{ChatError, MAX_NAME_CHARS, NameError, validate_chat, validate_name};
pub use snapshot::{Replica, ReplicaState};
