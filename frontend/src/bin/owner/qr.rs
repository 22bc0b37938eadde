//! A QR code drawn in the page as SVG: encoded by the `qrcode` crate (no image support, no
//! network), its dark modules turned into one SVG path.

use yew::prelude::*;

/// The quiet zone around the code, in modules: the standard asks for four.
const QUIET: usize = 4;

/// The QR code of `text`, black on white whatever the colour scheme (scanners want dark on
/// light), scaled by CSS; nothing if `text` does not fit a code.
pub fn qr_svg(text: &str, label: String) -> Html {
    let Some((width, path)) = draw(text) else {
        return html! {};
    };
    let size = width + 2 * QUIET;
    html! {
        <svg class="qr" data-testid="qr" viewBox={format!("0 0 {size} {size}")} role="img"
            aria-label={label} shape-rendering="crispEdges">
            <rect width="100%" height="100%" fill="#fff" />
            <path d={path} fill="#000" />
        </svg>
    }
}

/// The code's width in modules and its SVG path; `None` if `text` does not fit a QR code
/// (links here are a few dozen characters; a code holds up to about 2,300).
fn draw(text: &str) -> Option<(usize, String)> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    let width = code.width();
    Some((width, path_of(&dark_modules(&code), width)))
}

/// The code's modules row by row, `true` for dark.
fn dark_modules(code: &qrcode::QrCode) -> Vec<bool> {
    code.to_colors()
        .into_iter()
        .map(|color| color == qrcode::Color::Dark)
        .collect()
}

/// An SVG path drawing the dark modules of a square matrix (`true` is dark, row by row),
/// shifted by the quiet zone: each horizontal run of dark modules is one rectangle, so a
/// typical code is a few hundred short commands rather than a thousand elements.
pub fn path_of(modules: &[bool], width: usize) -> String {
    let mut path = String::new();
    for (y, row) in modules.chunks(width).enumerate() {
        let mut x = 0;
        while x < row.len() {
            if !row[x] {
                x += 1;
                continue;
            }
            let start = x;
            while x < row.len() && row[x] {
                x += 1;
            }
            let run = x - start;
            path.push_str(&format!("M{} {}h{run}v1h-{run}z", start + QUIET, y + QUIET));
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_dark_modules_become_rectangles() {
        // 3x3: a full top row, one dark module in the middle, an empty last row.
        let modules = [true, true, true, false, true, false, false, false, false];
        assert_eq!(path_of(&modules, 3), "M4 4h3v1h-3zM5 5h1v1h-1z");
    }

    #[test]
    fn a_link_makes_a_square_code_with_finder_patterns() {
        let (width, path) =
            draw("https://counter.example/c/door-2#staff=0123456789abcdef0123456789abcdef")
                .expect("a link fits");
        assert_eq!((width - 17) % 4, 0, "widths are 17 + 4 per version");
        // The top-left finder pattern's first row is a run of seven dark modules.
        assert!(path.starts_with("M4 4h7v1h-7z"), "{path}");
        // Decoding needs a scanner; the same text always draws the same code.
        assert_eq!(
            draw("https://counter.example/c/door-2").unwrap(),
            draw("https://counter.example/c/door-2").unwrap()
        );
    }

    #[test]
    fn too_much_text_draws_nothing() {
        assert!(draw(&"x".repeat(5000)).is_none());
    }
}
