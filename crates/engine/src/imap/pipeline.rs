//! Commands sent ahead of their answers (RFC 3501 section 5.5): what saves the round trips at internet
//! distance. A run sends every folder's EXAMINE and listing at once, and downloads several folders' messages
//! back to back, instead of waiting for each answer before the next command.
//!
//! Owns: keeping at most `window` commands unanswered; telling each answer apart by the command it belongs
//! to (a tagged completion by its tag; untagged data, and any response that could not be read, by the oldest
//! unanswered command, since a server works through pipelined commands in order); and holding each command's
//! answer to its [`Budget`], so an endless answer ends the connection instead of filling memory.
//!
//! Must never: send a command whose meaning depends on an answer not yet read. Callers only queue commands
//! whose meaning is fixed (a FETCH right behind the EXAMINE it belongs to) and discard a command's data when
//! the EXAMINE before it failed (a failed EXAMINE leaves no folder selected, RFC 3501 section 6.3.1).

use std::collections::VecDeque;

use mailsync_proto::imap::command::Command;
use mailsync_proto::imap::{CommandId, Completion, Event, Untagged};

use super::client::{Budget, ImapClient};
use crate::EngineError;

/// What was stepped over, and received, while one command was answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stepped {
    /// Untagged responses handed on.
    pub responses: usize,
    /// Bytes received while it was the oldest unanswered command.
    pub bytes: u64,
    /// Responses that could not be read at all (skipped).
    pub unreadable: u64,
    /// Responses kept with something stepped over (FETCH items that did not parse, unrequested kinds).
    pub odd: u64,
}

impl Stepped {
    /// Every response stepped over.
    pub fn warnings(&self) -> u64 {
        self.unreadable + self.odd
    }
}

/// One answer of a pipelined command, by the caller's index of the command.
#[derive(Debug)]
pub enum Piped {
    /// Untagged data of command `usize`.
    Data(usize, Untagged),
    /// Command `usize` completed; what was stepped over while it was answered.
    Done(usize, Completion, Stepped),
}

#[derive(Debug)]
struct Sent {
    index: usize,
    id: CommandId,
    name: &'static str,
    budget: Budget,
    stepped: Stepped,
}

/// A queue of commands and the ones in flight.
#[derive(Debug)]
pub struct Pipeline {
    todo: VecDeque<(usize, Command, Budget)>,
    sent: VecDeque<Sent>,
    window: usize,
}

impl Pipeline {
    /// An empty pipeline with at most `window` commands unanswered.
    pub fn new(window: usize) -> Pipeline {
        Pipeline { todo: VecDeque::new(), sent: VecDeque::new(), window: window.max(1) }
    }

    /// Queues `cmd` under the caller's index `i`, its answer held to `budget`.
    pub fn push(&mut self, i: usize, cmd: Command, budget: Budget) {
        self.todo.push_back((i, cmd, budget));
    }

    /// Holds command `i`'s answer (from now on) to `budget`: e.g. a listing's, once the EXAMINE before it
    /// said how many messages the folder has.
    pub fn set_budget(&mut self, i: usize, budget: Budget) {
        for (_, _, b) in self.todo.iter_mut().filter(|(index, _, _)| *index == i) {
            *b = budget;
        }
        for s in self.sent.iter_mut().filter(|s| s.index == i) {
            s.budget = budget;
        }
    }

    /// Whether nothing is queued or unanswered.
    pub fn is_empty(&self) -> bool {
        self.todo.is_empty() && self.sent.is_empty()
    }

    /// Commands queued or unanswered.
    pub fn len(&self) -> usize {
        self.todo.len() + self.sent.len()
    }
}

impl ImapClient {
    /// Sends what the window allows, then returns the next answer of a pipelined command; `None` when every
    /// command is answered.
    pub async fn next_piped(&mut self, p: &mut Pipeline) -> Result<Option<Piped>, EngineError> {
        while p.sent.len() < p.window {
            let Some((index, cmd, budget)) = p.todo.pop_front() else { break };
            let name = cmd.name();
            let id = self.send(cmd)?;
            p.sent.push_back(Sent { index, id, name, budget, stepped: Stepped::default() });
        }
        loop {
            let Some(front) = p.sent.front() else { return Ok(None) };
            let during = front.name;
            let (unreadable, odd, bytes) = (self.unreadable, self.odd, self.bytes_in);
            let ev = self.next_event(during).await?;
            let (unreadable, odd, bytes) =
                (self.unreadable - unreadable, self.odd - odd, self.bytes_in - bytes);
            let owner = match &ev {
                Event::Done(done) => p.sent.iter().position(|s| s.id == done.id),
                _ => Some(0),
            };
            if let Some(front) = p.sent.front_mut() {
                front.stepped.unreadable += unreadable;
                front.stepped.bytes += bytes;
                if matches!(ev, Event::Untagged(_)) {
                    front.stepped.responses += 1;
                }
                let (budget, got) = (front.budget, front.stepped);
                if got.responses > budget.responses || got.bytes > budget.bytes {
                    return Err(self.protocol(&format!(
                        "the server sent more than its answer to {} can hold ({} responses, {} bytes; at most {} \
                         and {}): cut off",
                        front.name, got.responses, got.bytes, budget.responses, budget.bytes
                    )));
                }
            }
            if let Some(s) = owner.and_then(|k| p.sent.get_mut(k)) {
                s.stepped.odd += odd;
            }
            match ev {
                Event::Untagged(u) => return Ok(Some(Piped::Data(p.sent.front().map_or(0, |f| f.index), u))),
                Event::Done(done) => {
                    let Some(s) = owner.and_then(|k| p.sent.remove(k)) else { continue };
                    return Ok(Some(Piped::Done(s.index, done, s.stepped)));
                }
                _ => {}
            }
        }
    }
}
