//! Key bindings: named UI actions, their default keys, parsing of key specs
//! ("ctrl+k", "alt+up") and remapping from the config file.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A remappable UI action. Plain typing, Backspace and cursor keys in the
/// compose box are not remappable: they are text editing, not commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyAction {
    Quit,
    Send,
    Newline,
    Switcher,
    PrevConv,
    NextConv,
    NextUnread,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Help,
    EditLast,
    SelectUp,
    SelectDown,
    Retry,
    Discard,
    Cancel,
    ReconnectNow,
    // Compose box editing.
    CursorLeft,
    CursorRight,
    LineStart,
    LineEnd,
    DeleteBack,
    DeleteForward,
    ClearCompose,
    /// Cursor to the start of the word before it (readline's Alt+B).
    WordLeft,
    /// Cursor to the end of the word after it (readline's Alt+F).
    WordRight,
    /// Delete the word before the cursor (readline's Ctrl+W).
    DeleteWordBack,
    /// Open the draft in $VISUAL / $EDITOR.
    Editor,
    /// Show the draft rendered.
    Preview,
    /// List the links of the selected message.
    Links,
    /// Show the selected message's code blocks in $PAGER.
    ViewCode,
    /// Reply to the selected message (§9.1).
    Reply,
    /// Open the selected message's thread (§9.1).
    Thread,
    /// React to the selected message (§9.2).
    React,
    /// Open the next conversation that mentions me (§9.3).
    NextMention,
    /// Complete the `@name` before the cursor (§9.3).
    Complete,
    /// The conversation menu: notify, pin, archive (§9.4).
    ConvMenu,
    /// Expand / collapse the archived conversations (§9.4).
    ToggleArchived,
}

impl KeyAction {
    /// Every action, in help-overlay order.
    pub const ALL: [KeyAction; 40] = [
        KeyAction::Send,
        KeyAction::Newline,
        KeyAction::Editor,
        KeyAction::Preview,
        KeyAction::CursorLeft,
        KeyAction::CursorRight,
        KeyAction::WordLeft,
        KeyAction::WordRight,
        KeyAction::LineStart,
        KeyAction::LineEnd,
        KeyAction::DeleteBack,
        KeyAction::DeleteForward,
        KeyAction::DeleteWordBack,
        KeyAction::ClearCompose,
        KeyAction::EditLast,
        KeyAction::Switcher,
        KeyAction::PrevConv,
        KeyAction::NextConv,
        KeyAction::NextUnread,
        KeyAction::PageUp,
        KeyAction::PageDown,
        KeyAction::Top,
        KeyAction::Bottom,
        KeyAction::SelectUp,
        KeyAction::SelectDown,
        KeyAction::Retry,
        KeyAction::Discard,
        KeyAction::Links,
        KeyAction::ViewCode,
        KeyAction::Reply,
        KeyAction::Thread,
        KeyAction::React,
        KeyAction::Complete,
        KeyAction::NextMention,
        KeyAction::ConvMenu,
        KeyAction::ToggleArchived,
        KeyAction::Cancel,
        KeyAction::ReconnectNow,
        KeyAction::Help,
        KeyAction::Quit,
    ];

    /// The config-file name of the action.
    pub fn name(self) -> &'static str {
        match self {
            KeyAction::Quit => "quit",
            KeyAction::Send => "send",
            KeyAction::Newline => "newline",
            KeyAction::Switcher => "switcher",
            KeyAction::PrevConv => "prev_conversation",
            KeyAction::NextConv => "next_conversation",
            KeyAction::NextUnread => "next_unread",
            KeyAction::PageUp => "page_up",
            KeyAction::PageDown => "page_down",
            KeyAction::Top => "scroll_top",
            KeyAction::Bottom => "scroll_bottom",
            KeyAction::Help => "help",
            KeyAction::EditLast => "edit_last",
            KeyAction::SelectUp => "select_up",
            KeyAction::SelectDown => "select_down",
            KeyAction::Retry => "retry",
            KeyAction::Discard => "discard",
            KeyAction::Cancel => "cancel",
            KeyAction::ReconnectNow => "reconnect",
            KeyAction::CursorLeft => "cursor_left",
            KeyAction::CursorRight => "cursor_right",
            KeyAction::LineStart => "line_start",
            KeyAction::LineEnd => "line_end",
            KeyAction::DeleteBack => "delete_back",
            KeyAction::DeleteForward => "delete_forward",
            KeyAction::ClearCompose => "clear_compose",
            KeyAction::WordLeft => "word_left",
            KeyAction::WordRight => "word_right",
            KeyAction::DeleteWordBack => "delete_word_back",
            KeyAction::Editor => "editor",
            KeyAction::Preview => "preview",
            KeyAction::Links => "links",
            KeyAction::ViewCode => "view_code",
            KeyAction::Reply => "reply",
            KeyAction::Thread => "thread",
            KeyAction::React => "react",
            KeyAction::NextMention => "next_mention",
            KeyAction::Complete => "complete_mention",
            KeyAction::ConvMenu => "conversation_menu",
            KeyAction::ToggleArchived => "toggle_archived",
        }
    }

    /// One line of help text.
    pub fn describe(self) -> &'static str {
        match self {
            KeyAction::Quit => "quit",
            KeyAction::Send => "send message / run command",
            KeyAction::Newline => "insert a newline",
            KeyAction::Switcher => "quick switcher (fuzzy)",
            KeyAction::PrevConv => "previous conversation",
            KeyAction::NextConv => "next conversation",
            KeyAction::NextUnread => "jump to next unread",
            KeyAction::PageUp => "scroll up a page",
            KeyAction::PageDown => "scroll down a page",
            KeyAction::Top => "scroll to oldest",
            KeyAction::Bottom => "scroll to newest",
            KeyAction::Help => "this help (empty compose)",
            KeyAction::EditLast => "edit last own message (empty compose)",
            KeyAction::SelectUp => "select older message",
            KeyAction::SelectDown => "select newer message",
            KeyAction::Retry => "retry failed message",
            KeyAction::Discard => "discard failed message",
            KeyAction::Cancel => "close overlay or thread / cancel edit or reply",
            KeyAction::ReconnectNow => "reconnect now (while reconnecting)",
            KeyAction::CursorLeft => "cursor left (one character)",
            KeyAction::CursorRight => "cursor right (one character)",
            KeyAction::LineStart => "cursor to start of draft",
            KeyAction::LineEnd => "cursor to end of draft",
            KeyAction::DeleteBack => "delete character before cursor",
            KeyAction::DeleteForward => "delete character under cursor",
            KeyAction::ClearCompose => "clear the draft",
            KeyAction::WordLeft => "cursor to the previous word",
            KeyAction::WordRight => "cursor past the next word",
            KeyAction::DeleteWordBack => "delete the word before the cursor",
            KeyAction::Editor => "edit the draft in $VISUAL / $EDITOR",
            KeyAction::Preview => "preview the draft rendered",
            KeyAction::Links => "links of selected message: open / copy",
            KeyAction::ViewCode => "code blocks of selected message in $PAGER",
            KeyAction::Reply => "reply to selected message",
            KeyAction::Thread => "thread of selected message",
            KeyAction::React => "react to selected (thread: selected/last)",
            KeyAction::NextMention => "jump to next conversation mentioning you",
            KeyAction::Complete => "complete @name in the draft",
            KeyAction::ConvMenu => "menu: notify / pin / archive",
            KeyAction::ToggleArchived => "show / hide archived conversations",
        }
    }

    fn from_name(name: &str) -> Option<KeyAction> {
        KeyAction::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// One key with modifiers, as matched against crossterm key events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyBinding {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeyBinding {
    pub const fn new(code: KeyCode, mods: KeyModifiers) -> Self {
        KeyBinding { code, mods }
    }

    /// Does this crossterm event press this binding? Shift is ignored on
    /// characters because terminals disagree on reporting it for `?` or `A`.
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        let norm = |code: KeyCode, mods: KeyModifiers| match code {
            KeyCode::Char(c) => (
                KeyCode::Char(c.to_ascii_lowercase()),
                mods - KeyModifiers::SHIFT,
            ),
            other => (other, mods),
        };
        norm(self.code, self.mods) == norm(ev.code, ev.modifiers)
    }

    /// Parses "ctrl+k", "alt+up", "shift+enter", "f1", "?", "pageup".
    pub fn parse(spec: &str) -> Result<KeyBinding, String> {
        let spec = spec.trim();
        let mut mods = KeyModifiers::NONE;
        let mut parts: Vec<&str> = spec.split('+').collect();
        // "ctrl++" or "+" means the plus key itself.
        if spec.ends_with("++") || spec == "+" {
            parts.retain(|p| !p.is_empty());
            parts.push("+");
        }
        let Some(key) = parts.pop() else {
            return Err(format!("empty key spec {spec:?}"));
        };
        for m in parts {
            match m.to_ascii_lowercase().as_str() {
                "ctrl" | "control" | "c" => mods |= KeyModifiers::CONTROL,
                "alt" | "meta" | "m" => mods |= KeyModifiers::ALT,
                "shift" | "s" => mods |= KeyModifiers::SHIFT,
                other => return Err(format!("unknown modifier {other:?} in {spec:?}")),
            }
        }
        let lower = key.to_ascii_lowercase();
        let code = match lower.as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdn" => KeyCode::PageDown,
            "space" => KeyCode::Char(' '),
            f if f.len() > 1 && f.starts_with('f') => match f[1..].parse::<u8>() {
                Ok(n) if (1..=12).contains(&n) => KeyCode::F(n),
                _ => return Err(format!("unknown key {key:?} in {spec:?}")),
            },
            _ => {
                let mut chars = key.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(c.to_ascii_lowercase()),
                    _ => return Err(format!("unknown key {key:?} in {spec:?}")),
                }
            }
        };
        Ok(KeyBinding { code, mods })
    }
}

impl fmt::Display for KeyBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl+")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("Alt+")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("Shift+")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) if self.mods.is_empty() => write!(f, "{c}"),
            KeyCode::Char(c) => write!(f, "{}", c.to_ascii_uppercase()),
            KeyCode::F(n) => write!(f, "F{n}"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Action → keys. Several keys may trigger one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMap {
    bindings: BTreeMap<KeyAction, Vec<KeyBinding>>,
}

impl Default for KeyMap {
    fn default() -> Self {
        use KeyCode as K;
        let none = KeyModifiers::NONE;
        let ctrl = KeyModifiers::CONTROL;
        let alt = KeyModifiers::ALT;
        let b = KeyBinding::new;
        let defaults = [
            (KeyAction::Quit, vec![b(K::Char('c'), ctrl)]),
            (KeyAction::Send, vec![b(K::Enter, none)]),
            (
                KeyAction::Newline,
                vec![b(K::Enter, alt), b(K::Enter, KeyModifiers::SHIFT)],
            ),
            (KeyAction::Switcher, vec![b(K::Char('k'), ctrl)]),
            (KeyAction::PrevConv, vec![b(K::Up, alt)]),
            (KeyAction::NextConv, vec![b(K::Down, alt)]),
            (KeyAction::NextUnread, vec![b(K::Char('a'), alt)]),
            (KeyAction::PageUp, vec![b(K::PageUp, none)]),
            (KeyAction::PageDown, vec![b(K::PageDown, none)]),
            (KeyAction::Top, vec![b(K::Home, none)]),
            (KeyAction::Bottom, vec![b(K::End, none)]),
            (KeyAction::Help, vec![b(K::Char('?'), none)]),
            (KeyAction::EditLast, vec![b(K::Up, none)]),
            (KeyAction::SelectUp, vec![b(K::Up, ctrl)]),
            (KeyAction::SelectDown, vec![b(K::Down, ctrl)]),
            (KeyAction::Retry, vec![b(K::Char('r'), ctrl)]),
            (KeyAction::Discard, vec![b(K::Char('x'), ctrl)]),
            (KeyAction::Cancel, vec![b(K::Esc, none)]),
            (KeyAction::ReconnectNow, vec![b(K::F(5), none)]),
            (KeyAction::CursorLeft, vec![b(K::Left, none)]),
            (KeyAction::CursorRight, vec![b(K::Right, none)]),
            (KeyAction::LineStart, vec![b(K::Char('a'), ctrl)]),
            (KeyAction::LineEnd, vec![b(K::Char('e'), ctrl)]),
            (KeyAction::DeleteBack, vec![b(K::Backspace, none)]),
            (KeyAction::DeleteForward, vec![b(K::Delete, none)]),
            (KeyAction::ClearCompose, vec![b(K::Char('u'), ctrl)]),
            (
                KeyAction::WordLeft,
                vec![b(K::Left, ctrl), b(K::Char('b'), alt)],
            ),
            (
                KeyAction::WordRight,
                vec![b(K::Right, ctrl), b(K::Char('f'), alt)],
            ),
            (
                KeyAction::DeleteWordBack,
                vec![b(K::Char('w'), ctrl), b(K::Backspace, alt)],
            ),
            (KeyAction::Editor, vec![b(K::Char('e'), alt)]),
            (KeyAction::Preview, vec![b(K::Char('p'), alt)]),
            (KeyAction::Links, vec![b(K::Char('l'), alt)]),
            (KeyAction::ViewCode, vec![b(K::Char('c'), alt)]),
            (KeyAction::Reply, vec![b(K::Char('r'), alt)]),
            (KeyAction::Thread, vec![b(K::Char('t'), alt)]),
            (KeyAction::React, vec![b(K::Char('g'), alt)]),
            (KeyAction::NextMention, vec![b(K::Char('m'), alt)]),
            (KeyAction::Complete, vec![b(K::Tab, none)]),
            (KeyAction::ConvMenu, vec![b(K::Char('s'), alt)]),
            (KeyAction::ToggleArchived, vec![b(K::Char('v'), alt)]),
        ];
        KeyMap {
            bindings: defaults.into_iter().collect(),
        }
    }
}

impl KeyMap {
    /// Defaults overridden by `action name -> key spec` entries from the
    /// config file. A spec may list several keys separated by commas
    /// ("alt+enter, shift+enter"); it replaces all default keys of the action.
    pub fn from_config(map: &BTreeMap<String, String>) -> Result<KeyMap, String> {
        let mut km = KeyMap::default();
        for (name, spec) in map {
            let action = KeyAction::from_name(name.trim())
                .ok_or_else(|| format!("unknown key action {name:?}"))?;
            let keys = spec
                .split(',')
                .map(KeyBinding::parse)
                .collect::<Result<Vec<_>, _>>()?;
            km.bindings.insert(action, keys);
        }
        Ok(km)
    }

    /// The action a key event triggers, if any. Compose-editing keys are
    /// handled by the caller before or after, depending on context.
    pub fn action_for(&self, ev: &KeyEvent) -> Option<KeyAction> {
        KeyAction::ALL
            .into_iter()
            .find(|a| self.keys(*a).iter().any(|k| k.matches(ev)))
    }

    /// Keys bound to an action.
    pub fn keys(&self, action: KeyAction) -> &[KeyBinding] {
        self.bindings.get(&action).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The first key bound to `action`, for a hint in a notice ("Ctrl+K");
    /// `[keys] NAME` when the user left it unbound.
    pub fn first_key(&self, action: KeyAction) -> String {
        self.keys(action)
            .first()
            .map_or_else(|| format!("[keys] {}", action.name()), ToString::to_string)
    }

    /// The keys that move between conversations, as one hint:
    /// "Alt+Up/Down" when they differ only in the arrow.
    pub fn conversation_keys(&self) -> String {
        let (prev, next) = (
            self.first_key(KeyAction::PrevConv),
            self.first_key(KeyAction::NextConv),
        );
        match (prev.strip_suffix("Up"), next.strip_suffix("Down")) {
            (Some(a), Some(b)) if a == b => format!("{a}Up/Down"),
            _ => format!("{prev}/{next}"),
        }
    }

    /// "no conversation open — pick one with Ctrl+K or Alt+Up/Down", with
    /// the keys as bound.
    pub fn no_conversation(&self) -> String {
        format!(
            "no conversation open — pick one with {} or {}",
            self.first_key(KeyAction::Switcher),
            self.conversation_keys()
        )
    }

    /// "Alt+Enter / Shift+Enter" for the help overlay.
    pub fn describe_keys(&self, action: KeyAction) -> String {
        let keys: Vec<String> = self.keys(action).iter().map(|k| k.to_string()).collect();
        keys.join(" / ")
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn no_two_actions_share_a_default_key() {
        let km = KeyMap::default();
        let mut seen: Vec<(KeyBinding, KeyAction)> = Vec::new();
        for action in KeyAction::ALL {
            for key in km.keys(action) {
                if let Some((_, other)) = seen.iter().find(|(k, _)| k == key) {
                    panic!("{key} is bound to both {other:?} and {action:?}");
                }
                seen.push((*key, action));
            }
        }
    }

    use super::*;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn parses_specs() {
        assert_eq!(
            KeyBinding::parse("ctrl+k"),
            Ok(KeyBinding::new(KeyCode::Char('k'), KeyModifiers::CONTROL))
        );
        assert_eq!(
            KeyBinding::parse("Alt+Up"),
            Ok(KeyBinding::new(KeyCode::Up, KeyModifiers::ALT))
        );
        assert_eq!(
            KeyBinding::parse("f5"),
            Ok(KeyBinding::new(KeyCode::F(5), KeyModifiers::NONE))
        );
        assert!(KeyBinding::parse("hyper+x").is_err());
        assert!(KeyBinding::parse("ctrl+nope").is_err());
    }

    #[test]
    fn remapping_replaces_defaults() {
        let mut cfg = BTreeMap::new();
        cfg.insert("switcher".to_owned(), "ctrl+p".to_owned());
        let km = KeyMap::from_config(&cfg).unwrap();
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('p'), KeyModifiers::CONTROL)),
            Some(KeyAction::Switcher)
        );
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('k'), KeyModifiers::CONTROL)),
            None
        );
        cfg.insert("frobnicate".to_owned(), "x".to_owned());
        assert_eq!(
            KeyMap::from_config(&cfg),
            Err("unknown key action \"frobnicate\"".to_owned())
        );
    }

    #[test]
    fn shift_is_ignored_on_characters() {
        let km = KeyMap::default();
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(KeyAction::Help)
        );
        assert_eq!(
            km.action_for(&ev(KeyCode::Enter, KeyModifiers::SHIFT)),
            Some(KeyAction::Newline)
        );
    }
}
