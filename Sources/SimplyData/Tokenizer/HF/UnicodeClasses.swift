/// Unicode character properties as Oniguruma (the regex library of Hugging
/// Face `tokenizers`) and Rust's `char` methods define them, read from
/// Swift's Unicode tables. Lookups in the Basic Multilingual Plane use a
/// table built once; other scalars ask `Unicode.Scalar.Properties`.
enum UnicodeClasses {
    /// General categories in a fixed order (bit `i` of a category set is `all[i]`).
    static let all: [Unicode.GeneralCategory] = [
        .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
        .nonspacingMark, .spacingMark, .enclosingMark,
        .decimalNumber, .letterNumber, .otherNumber,
        .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
        .initialPunctuation, .finalPunctuation, .otherPunctuation,
        .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol,
        .spaceSeparator, .lineSeparator, .paragraphSeparator,
        .control, .format, .surrogate, .privateUse, .unassigned,
    ]

    /// Property names accepted in `\p{…}`: one- and two-letter general
    /// category names and the long names of the one-letter groups.
    static let named: [String: UInt32] = {
        func bits(_ r: Range<Int>) -> UInt32 { r.reduce(0) { $0 | 1 << UInt32($1) } }
        let short = ["Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po",
                     "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"]
        var out: [String: UInt32] = [:]
        for (i, n) in short.enumerated() { out[n] = 1 << UInt32(i) }
        let groups: [(String, String, Range<Int>)] = [("L", "Letter", 0..<5), ("M", "Mark", 5..<8), ("N", "Number", 8..<11),
                                                       ("P", "Punctuation", 11..<18), ("S", "Symbol", 18..<22),
                                                       ("Z", "Separator", 22..<25), ("C", "Other", 25..<30)]
        for (s, l, r) in groups { out[s] = bits(r); out[l] = bits(r) }
        out["L&"] = bits(0..<3)
        return out
    }()

    private static func bits(_ name: String) -> UInt32 { named[name] ?? 0 }
    static let letters = bits("L")
    static let numbers = bits("N")
    static let decimal = bits("Nd")
    /// Oniguruma's `\w`: Letter, Mark, Decimal_Number, Connector_Punctuation.
    static let word = bits("L") | bits("M") | bits("Nd") | bits("Pc")
    private static let markDecimalConnector = bits("M") | bits("Nd") | bits("Pc")

    private static func index(_ c: Unicode.GeneralCategory) -> UInt8 {
        UInt8(all.firstIndex(of: c) ?? 29)
    }

    /// Category index of every BMP scalar (surrogate code points: Cs).
    private static let bmp: [UInt8] = {
        var t = [UInt8](repeating: 27, count: 0x10000)
        var byCategory: [Unicode.GeneralCategory: UInt8] = [:]
        for (i, c) in all.enumerated() { byCategory[c] = UInt8(i) }
        for v in 0..<0x10000 {
            if let u = Unicode.Scalar(UInt32(v)) { t[v] = byCategory[u.properties.generalCategory] ?? 29 }
        }
        return t
    }()

    /// The general category index (into `all`) of scalar value `v`.
    @inline(__always)
    static func category(_ v: UInt32) -> UInt8 {
        if v < 0x10000 { return bmp[Int(v)] }
        guard let u = Unicode.Scalar(v) else { return 29 }
        return index(u.properties.generalCategory)
    }

    @inline(__always)
    static func inCategories(_ v: UInt32, _ set: UInt32) -> Bool { set & (1 << UInt32(category(v))) != 0 }

    /// Oniguruma's `\s` (Unicode): U+0009–U+000D, U+0085 and the separators
    /// Zs, Zl, Zp — the same scalars as the White_Space property.
    @inline(__always)
    static func isSpace(_ v: UInt32) -> Bool {
        if v < 0x80 { return v == 0x20 || (v >= 9 && v <= 13) }
        if v == 0x85 { return true }
        return inCategories(v, spaceSeparators)
    }
    private static let spaceSeparators = bits("Z")

    /// Rust's `char::is_whitespace` (White_Space), as the `\s` of the `regex`
    /// crate that `tokenizers` uses for added-token lstrip/rstrip.
    static func isWhiteSpace(_ v: UInt32) -> Bool { isSpace(v) }

    /// Rust `regex`'s `\w` (Unicode): Alphabetic, Mark, Decimal_Number,
    /// Connector_Punctuation, Join_Control.
    static func isRustWord(_ v: UInt32) -> Bool {
        if v < 0x80 {
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F
        }
        if inCategories(v, markDecimalConnector) { return true }
        if v == 0x200C || v == 0x200D { return true }
        return Unicode.Scalar(v)?.properties.isAlphabetic ?? false
    }

    /// Rust's `char::is_numeric`: general category Nd, Nl or No.
    static func isNumeric(_ v: UInt32) -> Bool { inCategories(v, numbers) }

    /// Simple case folding for case-insensitive matching: the lowercase of
    /// the uppercase when each is one scalar (so "ſ" and "S" fold to "s",
    /// the Kelvin sign to "k"), else the lowercase, else the scalar.
    static func fold(_ v: UInt32) -> UInt32 {
        if v < 0x80 { return (v >= 0x41 && v <= 0x5A) ? v + 32 : v }
        guard let u = Unicode.Scalar(v) else { return v }
        let up = u.properties.uppercaseMapping.unicodeScalars
        if up.count == 1, let s = up.first {
            let low = s.properties.lowercaseMapping.unicodeScalars
            if low.count == 1, let l = low.first { return l.value }
        }
        let low = u.properties.lowercaseMapping.unicodeScalars
        if low.count == 1, let l = low.first { return l.value }
        return v
    }
}
