//! The hosted API's protobuf face of the model: `wire` declares the messages annotask serves
//! (package `clarifai.api`, the official names and field numbers), `convert` is the one
//! mapping between them and the model. The only module that declares or encodes protobuf
//! messages. Must not know the gRPC transport (tonic is `server/grpc`'s), files or the index.

pub mod convert;
pub mod wire;

use prost::Message;
use prost::bytes::{Buf, BufMut};
use prost::encoding::{self, DecodeContext, WireType};

use crate::api::TaskMetrics;
use crate::model::Task;

/// A valid task as a protobuf `clarifai.api.Task`, with the ids the encoding is done with.
pub struct EncodedTask {
    pub proto: Vec<u8>,
    pub id: String,
    pub workers: Vec<String>,
    pub reviewers: Vec<String>,
}

/// Encodes a valid task. The index stores the protobuf beside the task's JSON, so that gRPC
/// reads, like JSON reads, send what a sync encoded once, and keeps the task's id and users
/// beside it, which are moved out of the message once it is encoded rather than copied (a
/// sync encodes every task file it reads).
pub fn encode_task(task: Task) -> EncodedTask {
    let wire = convert::task_to_wire(task.into_doc());
    EncodedTask {
        proto: wire.encode_to_vec(),
        id: wire.id,
        workers: wire.worker.map(|w| w.user_ids).unwrap_or_default(),
        reviewers: wire.review.map(|r| r.user_ids).unwrap_or_default(),
    }
}

/// A task with its metrics, as `additional_fields` asks for them: encoded for each request,
/// since metrics follow the inputs.
pub fn encode_task_with_metrics(task: &Task, metrics: &TaskMetrics) -> Vec<u8> {
    convert::task_with_metrics_to_wire(task.doc(), metrics).encode_to_vec()
}

/// A message whose fields are encoded already: a response built around tasks as the index
/// stores them, which are sent as they are rather than decoded to be encoded again. Only
/// ever sent; decoding one skips every field.
#[derive(Debug, Default)]
pub struct Encoded(Vec<u8>);

/// The `status` field, number 1 in every response.
const STATUS: u32 = 1;

impl Encoded {
    /// A response holding only its status.
    pub fn status(status: &wire::Status) -> Encoded {
        let mut buf = Vec::new();
        encoding::message::encode(STATUS, status, &mut buf);
        Encoded(buf)
    }

    /// `SingleTaskResponse { status, task }` (`task` is field 2).
    pub fn task_response(status: &wire::Status, task: &[u8]) -> Encoded {
        Encoded::status(status).with_tasks(std::iter::once(task))
    }

    /// `MultiTaskResponse { status, tasks }` (`tasks` is field 2, repeated).
    pub fn tasks_response<'a>(
        status: &wire::Status,
        tasks: impl IntoIterator<Item = &'a [u8]> + Clone,
    ) -> Encoded {
        Encoded::status(status).with_tasks(tasks)
    }

    /// An embedded message and a `bytes` field are the same on the wire: a key, a length,
    /// then the bytes.
    fn with_tasks<'a>(mut self, tasks: impl IntoIterator<Item = &'a [u8]> + Clone) -> Encoded {
        // A key and a length take at most 4 bytes for a task under 2 MiB.
        let size = tasks.clone().into_iter().map(|t| t.len() + 4).sum();
        self.0.reserve_exact(size);
        for task in tasks {
            encoding::encode_key(2, WireType::LengthDelimited, &mut self.0);
            encoding::encode_varint(task.len() as u64, &mut self.0);
            self.0.extend_from_slice(task);
        }
        self
    }
}

/// The most [`Encoded`] copies at once; see `encode_raw`.
const PIECE: usize = 2048;

impl Message for Encoded {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        // In pieces small enough that glibc copies them with vector moves, not `rep movsb`. On
        // AMD EPYC (glibc 2.36), `rep movsb` runs 20 times slower when the destination lies
        // 1 to 32 bytes past the source modulo 4 KiB, and that is where this lands: the gRPC
        // transport writes a message 5 bytes into a buffer the allocator places like this one.
        // A page of 128 tasks took 20 µs to copy, a tenth of a ListTasks call; in pieces it
        // takes 1 to 2 µs.
        for piece in self.0.chunks(PIECE) {
            buf.put_slice(piece);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_responses_decode_as_the_messages_they_stand_for() {
        let doc = crate::yaml::parse_task(
            b"id: t\ntype: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\ninput_source: {type: ALL_INPUTS}\nworker: {strategy: FULL, user_ids: [ann]}\n",
        )
        .unwrap();
        let task = crate::validate::validate(doc, None).0.unwrap();
        let status = convert::status(crate::api::ok());
        let bytes = encode_task(task.clone()).proto;
        let single = wire::SingleTaskResponse::decode(
            &*Encoded::task_response(&status, &bytes).encode_to_vec(),
        )
        .unwrap();
        assert_eq!(single.status.as_ref(), Some(&status));
        assert_eq!(single.task, Some(convert::task_to_wire(task.doc().clone())));
        // A page larger than the pieces it is copied in.
        let page = Encoded::tasks_response(&status, vec![&bytes[..]; 300]).encode_to_vec();
        assert!(page.len() > 2 * PIECE, "{} bytes", page.len());
        let multi = wire::MultiTaskResponse::decode(&*page).unwrap();
        assert_eq!(multi.tasks.len(), 300);
        assert_eq!(multi.tasks[299], convert::task_to_wire(task.doc().clone()));
        let failed =
            wire::MultiTaskResponse::decode(&*Encoded::status(&status).encode_to_vec()).unwrap();
        assert!(failed.tasks.is_empty());
    }
}
