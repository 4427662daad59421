//! `stackgen secrets rotate NAME`: a new random value for a secret. It is written to its
//! file; new containers of every service that reads it start beside the old ones; once
//! the first one answers, the value is set where it is checked (the database, by its
//! kind's `[rotate]` script over the server's own socket, so the old value is not
//! needed), and it is switched in at its first good answer. If that fails, the old
//! value is put back (when it was known), so the apps are never left with a password
//! the database rejects.

use std::path::Path;

use anyhow::Result;

use crate::cli::RotateArgs;
use crate::commands::context::{self, Context};
use crate::engine::signal::Shield;
use crate::error::{Error, Exit, Problem};
use crate::output;
use crate::stack::Service;
use crate::stack::Stack;
use crate::stack::kind::Rotate;
use crate::state::{layout, secrets};
use crate::targets::{self, EngineUse, Target};

pub fn rotate(ctx: &Context, args: &RotateArgs) -> Result<Exit> {
    let name = args.name.as_str();
    let stack = Stack::load(ctx.dir)?;
    let (length, (checkers, readers)) = roles(&stack, name)?;
    let target = targets::open(&stack, ctx.target_for(&stack));
    target.check_engine(EngineUse::Engine)?;
    let _lock = context::lock(&stack, args.lock)?;
    let root = &stack.root;
    let old = secrets::read(root, name);
    let new = secrets::random_alphanumeric(length as usize)?;
    // From the file's write on, a rotation stopped half way could lock the apps out (a
    // file the database does not know): Ctrl-C reaches stackgen alone, which finishes.
    let shield = Shield::install();
    // The file first: the new containers mount it when they are created, the running
    // ones keep the file they were started with.
    secrets::write(root, name, &new)?;
    output::note(format_args!("wrote {}/{name}", layout::SECRETS_DIR));
    let set = std::cell::Cell::new(false);
    let set_new = || -> Result<(), Error> {
        for (svc, how) in &checkers {
            target.set_password(svc, how, &new)?;
            set.set(true);
            output::note(format_args!("set the new `{name}` in `{}`", svc.name));
        }
        Ok(())
    };
    if let Err(e) = target.restart(&readers, &set_new) {
        let back = PutBack {
            root,
            name,
            old: old.as_deref(),
            checkers: &checkers,
            set: set.get(),
        };
        return Err(back.run(target.as_ref(), e).into());
    }
    output::note(format_args!(
        "rotated `{name}`: {} now use the new value; the old one no longer works",
        checkers
            .iter()
            .map(|(s, _)| s)
            .chain(&readers)
            .map(|s| format!("`{}`", s.name))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if shield.interrupted() {
        output::warn(format_args!(
            "interrupted: the rotation was under way, so it finished first"
        ));
        return Ok(Exit::Interrupted);
    }
    Ok(Exit::Success)
}

/// Who has a part in a secret: the services that check it (their kind has `[rotate]`)
/// and the others, which only read it.
type Roles<'s> = (Vec<(&'s Service, &'s Rotate)>, Vec<&'s Service>);

/// The secret's length and its [`Roles`].
fn roles<'s>(stack: &'s Stack, name: &str) -> Result<(u32, Roles<'s>), Error> {
    let Some(length) = stack.secrets.get(name) else {
        let known: Vec<&str> = stack.secrets.keys().map(String::as_str).collect();
        return Err(Error::input(
            Problem::new(
                "secrets rotate",
                format!("no secret `{name}` in stack.toml"),
            )
            .hint(format!(
                "declared secrets: {}",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            )),
        ));
    };
    let mut checkers = Vec::new();
    let mut readers = Vec::new();
    for svc in stack
        .services
        .values()
        .filter(|s| s.secrets.iter().any(|x| x == name))
    {
        match stack.kinds.get(&svc.kind).and_then(|k| k.rotate.as_ref()) {
            Some(how) => checkers.push((svc, how)),
            None => readers.push(svc),
        }
    }
    if checkers.is_empty() {
        return Err(Error::input(
            Problem::new(
                "secrets rotate",
                format!("no service that reads `{name}` can set a new value for it"),
            )
            .hint("a secret is rotated by the service that checks it: its kind's `kind.toml` needs a `[rotate]` script (as `postgres` has)"),
        ));
    }
    Ok((*length, (checkers, readers)))
}

const AGAIN: &str = "fix the failing service and run `stackgen secrets rotate` again";

/// After the readers failed to restart: the old value back in the database (when it
/// was changed there) and in its file, so the containers still running keep working.
struct PutBack<'a> {
    root: &'a Path,
    name: &'a str,
    old: Option<&'a str>,
    checkers: &'a [(&'a Service, &'a Rotate)],
    /// Whether the database already has the new value.
    set: bool,
}

impl PutBack<'_> {
    /// Returns the error to exit with.
    fn run(&self, target: &dyn Target, failure: Error) -> Error {
        let name = self.name;
        let Some(old) = self.old else {
            if !self.set {
                // As it was: no file, and the database kept its password.
                let _ = std::fs::remove_file(layout::secret_file(self.root, name));
                let message = format!("{failure}; `{name}` was not changed");
                return failure.rephrased(message, Some(AGAIN.into()));
            }
            let message = format!(
                "{failure}; the new `{name}` is set and written, but not every reader runs with it"
            );
            return failure.rephrased(message, Some(AGAIN.into()));
        };
        let restored = self
            .checkers
            .iter()
            .filter(|_| self.set)
            .try_for_each(|(svc, how)| target.set_password(svc, how, old))
            .map_err(anyhow::Error::from)
            .and_then(|()| secrets::write(self.root, name, old));
        match restored {
            Ok(()) => {
                let message =
                    format!("{failure}; the old `{name}` was put back, so what runs keeps working");
                failure.rephrased(
                    message,
                    Some("fix the failing service, then rotate again".into()),
                )
            }
            // What failed second is the cause the operator must see now.
            Err(e) => Error::runtime(
                format!("{failure}; putting the old `{name}` back failed too"),
                Some(format!(
                    "run `stackgen secrets rotate {name}` again once the service is fixed"
                )),
            )
            .caused_by(e),
        }
    }
}
