//! Styles: stable per-sender colours and the NO_COLOR fallbacks (bold,
//! reverse and dim only, never a colour, when colours are off).

use ratatui::style::{Color, Modifier, Style};

/// Sender palette. Red is left out: it means "error" and "new messages".
const PALETTE: [Color; 10] = [
    Color::Cyan,
    Color::Green,
    Color::Yellow,
    Color::Blue,
    Color::Magenta,
    Color::LightCyan,
    Color::LightGreen,
    Color::LightYellow,
    Color::LightBlue,
    Color::LightMagenta,
];

/// FNV-1a: stable across runs and platforms (std's hasher is randomly seeded).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The colour of a user name: the same name always gets the same colour.
pub fn sender_color(name: &str) -> Color {
    PALETTE[(fnv1a(name) % PALETTE.len() as u64) as usize]
}

pub fn sender_style(name: &str, colors: bool) -> Style {
    let s = Style::new().add_modifier(Modifier::BOLD);
    if colors { s.fg(sender_color(name)) } else { s }
}

/// Secondary text (timestamps, separators, previews).
pub fn dim(colors: bool) -> Style {
    if colors {
        Style::new().fg(Color::DarkGray)
    } else {
        Style::new().add_modifier(Modifier::DIM)
    }
}

/// Errors and failures.
pub fn error(colors: bool) -> Style {
    if colors {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    }
}

/// Highlighted list row / selection.
pub fn highlight(colors: bool) -> Style {
    if colors {
        Style::new().bg(Color::Blue).fg(Color::White)
    } else {
        Style::new().add_modifier(Modifier::REVERSED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_colours_are_stable() {
        assert_eq!(sender_color("alice"), sender_color("alice"));
        // Pinned: a change of hash would recolour everyone between versions.
        assert_eq!(
            sender_color("alice"),
            PALETTE[(fnv1a("alice") % 10) as usize]
        );
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
    }
}
