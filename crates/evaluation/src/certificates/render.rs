//! Drawing a certificate on the server: a 1600 × 1130 picture (A4 landscape at about 190 dpi)
//! with the title, the holder's name as they entered it, the hours, the issuer and the date in
//! a CJK font (the server hands over its bytes: Noto Sans CJK from Debian's fonts-noto-cjk by
//! default), the issuer's seal when one was uploaded, and a QR code of the verification link.
//! Encoded as PNG, or wrapped as a one-page PDF ([`pdf`]). Every character drawn must have a
//! glyph in the font: [`Picture::missing`] lists those that did not (they would be tofu boxes).
//! Pure: bytes in, bytes out.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};

pub const WIDTH: u32 = 1600;
pub const HEIGHT: u32 = 1130;

type Rgb = [u8; 3];
const PAPER: Rgb = [0xff, 0xfb, 0xf2];
const RED: Rgb = [0xb8, 0x32, 0x27];
const GOLD: Rgb = [0xc9, 0xa0, 0x63];
const INK: Rgb = [0x1f, 0x1f, 0x1f];
const MUTED: Rgb = [0x5f, 0x5f, 0x5f];

/// Loads a font file or collection; in a collection, the Simplified Chinese face (a family name
/// ending in "SC"), else the first.
pub fn load_font(bytes: Vec<u8>) -> Result<FontVec, String> {
    let faces = ttf_parser::fonts_in_collection(&bytes).unwrap_or(1);
    let index = (0..faces)
        .find(|&i| {
            ttf_parser::Face::parse(&bytes, i).is_ok_and(|face| {
                face.names().into_iter().any(|n| {
                    n.name_id == ttf_parser::name_id::FAMILY
                        && n.to_string().is_some_and(|s| s.trim_end().ends_with("SC"))
                })
            })
        })
        .unwrap_or(0);
    let font = FontVec::try_from_vec_and_index(bytes, index).map_err(|e| format!("not a font: {e}"))?;
    if font.glyph_id('证').0 == 0 {
        return Err("the font has no Chinese glyphs (install fonts-noto-cjk)".into());
    }
    Ok(font)
}

/// An RGBA image (the seal).
#[derive(Debug, Clone)]
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// Decodes a PNG (any colour type) to RGBA; `None` unless it is a PNG of at most 2000 × 2000.
pub fn decode_png(bytes: &[u8]) -> Option<Rgba> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().ok()?;
    let (w, h) = (reader.info().width, reader.info().height);
    if w == 0 || h == 0 || w > 2000 || h > 2000 {
        return None;
    }
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).ok()?;
    let data = &buf[..frame.buffer_size()];
    let pixels: Vec<u8> = match frame.color_type {
        png::ColorType::Rgba => data.to_vec(),
        png::ColorType::Rgb => data.chunks(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
        png::ColorType::GrayscaleAlpha => data.chunks(2).flat_map(|p| [p[0], p[0], p[0], p[1]]).collect(),
        png::ColorType::Grayscale => data.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        png::ColorType::Indexed => return None,
    };
    (pixels.len() == (w * h * 4) as usize).then_some(Rgba {
        width: w,
        height: h,
        pixels,
    })
}

/// What a certificate says.
#[derive(Debug, Clone)]
pub struct Card<'a> {
    pub title: &'a str,
    pub name: &'a str,
    pub hours: f64,
    pub issuer: &'a str,
    /// The date, as printed (2026 年 12 月 7 日).
    pub date: &'a str,
    pub code: &'a str,
    /// The verification link the QR code holds.
    pub url: &'a str,
    pub revoked: bool,
    pub seal: Option<&'a Rgba>,
}

/// A drawn certificate: RGB pixels, and the characters the font had no glyph for.
#[derive(Debug)]
pub struct Picture {
    pub rgb: Vec<u8>,
    pub missing: Vec<char>,
}

/// How text is drawn: its size in pixels, colour, opacity and extra weight (passes one pixel
/// to the right).
#[derive(Clone, Copy)]
struct Pen {
    px: f32,
    color: Rgb,
    alpha: f32,
    weight: u8,
}

const fn pen(px: f32, color: Rgb) -> Pen {
    Pen {
        px,
        color,
        alpha: 1.0,
        weight: 0,
    }
}

struct Canvas<'f> {
    rgb: Vec<u8>,
    font: &'f FontVec,
    missing: Vec<char>,
}

impl Canvas<'_> {
    fn blend(&mut self, x: i32, y: i32, color: Rgb, alpha: f32) {
        if x < 0 || y < 0 || x >= WIDTH as i32 || y >= HEIGHT as i32 || alpha <= 0.0 {
            return;
        }
        let i = ((y as u32 * WIDTH + x as u32) * 3) as usize;
        let a = alpha.min(1.0);
        for (k, c) in color.iter().enumerate() {
            let old = f32::from(self.rgb[i + k]);
            self.rgb[i + k] = (old + (f32::from(*c) - old) * a).round() as u8;
        }
    }

    fn rect(&mut self, x: i32, y: i32, w: i32, h: i32, color: Rgb) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.blend(xx, yy, color, 1.0);
            }
        }
    }

    /// A frame `t` pixels thick, `inset` from the edges.
    fn frame(&mut self, inset: i32, t: i32, color: Rgb) {
        let (w, h) = (WIDTH as i32 - 2 * inset, HEIGHT as i32 - 2 * inset);
        self.rect(inset, inset, w, t, color);
        self.rect(inset, inset + h - t, w, t, color);
        self.rect(inset, inset, t, h, color);
        self.rect(inset + w - t, inset, t, h, color);
    }

    fn width(&self, text: &str, px: f32) -> f32 {
        let scaled = self.font.as_scaled(PxScale::from(px));
        text.chars().map(|c| scaled.h_advance(self.font.glyph_id(c))).sum()
    }

    /// Draws `text` with its left end at `x` on the baseline `y`.
    fn text(&mut self, text: &str, x: f32, y: f32, pen: Pen) {
        let Pen {
            px,
            color,
            alpha,
            weight,
        } = pen;
        let scaled = self.font.as_scaled(PxScale::from(px));
        let mut caret = x;
        for c in text.chars() {
            let id = self.font.glyph_id(c);
            if id.0 == 0 && !c.is_whitespace() && !self.missing.contains(&c) {
                self.missing.push(c);
            }
            let advance = scaled.h_advance(id);
            for pass in 0..=weight {
                let glyph = id.with_scale_and_position(px, point(caret + f32::from(pass), y));
                if let Some(outline) = self.font.outline_glyph(glyph) {
                    let b = outline.px_bounds();
                    let mut ink = Vec::new();
                    outline.draw(|gx, gy, cov| ink.push((b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32, cov)));
                    for (px_x, px_y, cov) in ink {
                        self.blend(px_x, px_y, color, cov * alpha);
                    }
                }
            }
            caret += advance;
        }
    }

    fn centred(&mut self, text: &str, y: f32, pen: Pen) {
        let x = (WIDTH as f32 - self.width(text, pen.px)) / 2.0;
        self.text(text, x, y, pen);
    }

    /// Lines of at most `max` pixels, broken between characters.
    fn wrap(&self, text: &str, px: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for c in text.chars() {
            let mut next = line.clone();
            next.push(c);
            if self.width(&next, px) > max && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line.push(c);
            } else {
                line = next;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    fn qr(&mut self, text: &str, x: i32, y: i32, size: i32) {
        let Ok(code) = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M) else {
            return;
        };
        let n = code.width() as i32;
        // A quiet zone of four modules on white.
        let module = (size / (n + 8)).max(2);
        let side = module * (n + 8);
        self.rect(x, y, side, side, [0xff, 0xff, 0xff]);
        for (i, color) in code.to_colors().iter().enumerate() {
            if *color == qrcode::Color::Dark {
                let (mx, my) = (i as i32 % n, i as i32 / n);
                self.rect(x + (mx + 4) * module, y + (my + 4) * module, module, module, [0, 0, 0]);
            }
        }
    }

    /// The seal, scaled to `size` pixels across and centred on `(cx, cy)`, printed over the
    /// text like ink (its alpha times its darkness).
    fn seal(&mut self, seal: &Rgba, cx: i32, cy: i32, size: i32) {
        let scale = size as f32 / seal.width.max(seal.height) as f32;
        let (w, h) = ((seal.width as f32 * scale) as i32, (seal.height as f32 * scale) as i32);
        // Bilinear: a small seal scaled up keeps smooth edges.
        let at = |x: u32, y: u32, k: usize| -> f32 {
            let i = ((y.min(seal.height - 1) * seal.width + x.min(seal.width - 1)) * 4) as usize + k;
            f32::from(seal.pixels[i])
        };
        for yy in 0..h {
            for xx in 0..w {
                let (fx, fy) = (
                    ((xx as f32 + 0.5) / scale - 0.5).max(0.0),
                    ((yy as f32 + 0.5) / scale - 0.5).max(0.0),
                );
                let (x0, y0) = (fx as u32, fy as u32);
                let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
                let sample = |k: usize| {
                    let top = at(x0, y0, k) * (1.0 - tx) + at(x0 + 1, y0, k) * tx;
                    let bottom = at(x0, y0 + 1, k) * (1.0 - tx) + at(x0 + 1, y0 + 1, k) * tx;
                    top * (1.0 - ty) + bottom * ty
                };
                let color = [sample(0) as u8, sample(1) as u8, sample(2) as u8];
                let alpha = sample(3) / 255.0 * 0.85;
                self.blend(cx - w / 2 + xx, cy - h / 2 + yy, color, alpha);
            }
        }
    }
}

/// Draws `card` in `font`.
pub fn draw(font: &FontVec, card: &Card<'_>) -> Picture {
    let mut c = Canvas {
        rgb: PAPER.repeat((WIDTH * HEIGHT) as usize),
        font,
        missing: Vec::new(),
    };
    c.frame(24, 12, RED);
    c.frame(52, 3, GOLD);
    c.centred(
        "证　书",
        250.0,
        Pen {
            weight: 2,
            ..pen(112.0, RED)
        },
    );
    c.centred(card.title, 340.0, pen(44.0, INK));
    c.centred(
        card.name,
        470.0,
        Pen {
            weight: 1,
            ..pen(68.0, INK)
        },
    );
    let hours = format!("{:.1}", card.hours);
    let body = format!(
        "在{}完成规定的家庭教育学习，累计学时 {hours} 小时，特发此证。",
        card.issuer
    );
    for (i, line) in c.wrap(&body, 38.0, 1180.0).iter().enumerate() {
        c.centred(line, 575.0 + 62.0 * i as f32, pen(38.0, INK));
    }
    c.qr(card.url, 130, 740, 250);
    c.text("扫码验证真伪", 150.0, 1030.0, pen(26.0, MUTED));
    c.text(&format!("证书编号：{}", card.code), 150.0, 1068.0, pen(26.0, MUTED));
    let right = |c: &Canvas<'_>, text: &str, px: f32| 1470.0 - c.width(text, px);
    let x = right(&c, card.issuer, 38.0);
    c.text(card.issuer, x, 930.0, pen(38.0, INK));
    let x = right(&c, card.date, 32.0);
    c.text(card.date, x, 985.0, pen(32.0, INK));
    if let Some(seal) = card.seal {
        c.seal(seal, 1340, 900, 250);
    }
    if card.revoked {
        let w = c.width("已撤销", 220.0);
        let stamp = Pen {
            alpha: 0.45,
            weight: 2,
            ..pen(220.0, RED)
        };
        c.text("已撤销", (WIDTH as f32 - w) / 2.0, 700.0, stamp);
    }
    Picture {
        rgb: c.rgb,
        missing: c.missing,
    }
}

/// The picture as a PNG.
pub fn png(picture: &Picture) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&picture.rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// The picture as a one-page A4 landscape PDF (the picture fills the page), titled `title`.
pub fn pdf(picture: &Picture, title: &str) -> Vec<u8> {
    let image = miniz_oxide::deflate::compress_to_vec_zlib(&picture.rgb, 6);
    let content = b"q 842 0 0 595 0 0 cm /Im1 Do Q";
    // The title as UTF-16BE in hex, so Chinese survives.
    let title_hex: String = std::iter::once(0xfeff_u16)
        .chain(title.encode_utf16())
        .map(|u| format!("{u:04X}"))
        .collect();
    let mut out: Vec<u8> = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    let mut object = |out: &mut Vec<u8>, head: String, stream: Option<&[u8]>| {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{head}\n", offsets.len()).as_bytes());
        if let Some(bytes) = stream {
            out.extend_from_slice(b"stream\n");
            out.extend_from_slice(bytes);
            out.extend_from_slice(b"\nendstream\n");
        }
        out.extend_from_slice(b"endobj\n");
    };
    object(&mut out, "<< /Type /Catalog /Pages 2 0 R >>".into(), None);
    object(&mut out, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(), None);
    object(
        &mut out,
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 842 595] /Resources << /XObject << /Im1 4 0 R >> >> \
         /Contents 5 0 R >>"
            .into(),
        None,
    );
    object(
        &mut out,
        format!(
            "<< /Type /XObject /Subtype /Image /Width {WIDTH} /Height {HEIGHT} /ColorSpace /DeviceRGB \
             /BitsPerComponent 8 /Filter /FlateDecode /Length {} >>",
            image.len()
        ),
        Some(&image),
    );
    object(&mut out, format!("<< /Length {} >>", content.len()), Some(content));
    object(
        &mut out,
        format!("<< /Title <{title_hex}> /Producer (ParentSchool) >>"),
        None,
    );
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes());
    for o in &offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info {} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1,
            offsets.len()
        )
        .as_bytes(),
    );
    out
}
