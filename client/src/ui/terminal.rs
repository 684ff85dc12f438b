//! The real terminal: raw mode, alternate screen, mouse capture and
//! bracketed paste on the way in; all of it undone on the way out — on
//! normal exit, on error (drop guard) and on panic (panic hook).

use std::io::{self, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    KeyboardEnhancementFlags, PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use tokio::sync::mpsc;

/// Whether we pushed kitty keyboard flags (so restore pops them).
static ENHANCED: AtomicBool = AtomicBool::new(false);
/// Whether the terminal is currently set up (restore is idempotent).
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// The input reader is asked to stop reading (an editor owns the terminal).
static READER_PAUSE: AtomicBool = AtomicBool::new(false);
/// The input reader saw the request and is not reading.
static READER_IDLE: AtomicBool = AtomicBool::new(false);

/// Puts the terminal into TUI mode. The returned guard restores it on drop.
pub fn setup() -> io::Result<TerminalGuard> {
    install_panic_hook();
    enter()?;
    Ok(TerminalGuard { _private: () })
}

/// Hands the terminal to another program (`$EDITOR`, `$PAGER`): the input
/// reader stops reading, the TUI modes are undone. Returns whether the TUI
/// was set up (only then does [`resume`] set it up again).
pub fn suspend() -> bool {
    READER_PAUSE.store(true, Ordering::SeqCst);
    // Wait for the reader to leave its poll (it polls every 100 ms), so it
    // can't take the editor's first keys.
    let deadline = std::time::Instant::now() + Duration::from_millis(300);
    while !READER_IDLE.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let active = ACTIVE.load(Ordering::SeqCst);
    restore();
    active
}

/// Takes the terminal back after [`suspend`].
pub fn resume() -> io::Result<()> {
    let r = enter();
    READER_PAUSE.store(false, Ordering::SeqCst);
    r
}

fn enter() -> io::Result<()> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let mut out = io::stdout();
    execute!(
        out,
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste
    )?;
    // With the kitty protocol, Shift+Enter is reported distinctly from Enter.
    if crossterm::terminal::supports_keyboard_enhancement().unwrap_or(false) {
        let flags = KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES;
        if execute!(out, PushKeyboardEnhancementFlags(flags)).is_ok() {
            ENHANCED.store(true, Ordering::SeqCst);
        }
    }
    Ok(())
}

/// Undoes `setup`. Safe to call more than once and from the panic hook.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    if ENHANCED.swap(false, Ordering::SeqCst) {
        let _ = execute!(out, PopKeyboardEnhancementFlags);
    }
    let _ = execute!(
        out,
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen
    );
    let _ = execute!(out, crossterm::cursor::Show);
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// Restores the terminal before the default hook prints the panic message,
/// so the message is readable and the shell is usable afterwards.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Restores the terminal when dropped.
#[derive(Debug)]
pub struct TerminalGuard {
    _private: (),
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Reads terminal input on a dedicated thread (crossterm's read blocks) and
/// forwards it; the thread ends when the receiver is dropped.
pub fn spawn_input_reader() -> mpsc::Receiver<crossterm::event::Event> {
    let (tx, rx) = mpsc::channel(256);
    thread::spawn(move || {
        loop {
            if tx.is_closed() {
                break;
            }
            if READER_PAUSE.load(Ordering::SeqCst) {
                READER_IDLE.store(true, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(10));
                continue;
            }
            READER_IDLE.store(false, Ordering::SeqCst);
            match crossterm::event::poll(Duration::from_millis(100)) {
                Ok(true) => match crossterm::event::read() {
                    Ok(ev) => {
                        if tx.blocking_send(ev).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                },
                Ok(false) => {}
                Err(_) => break,
            }
        }
    });
    rx
}
