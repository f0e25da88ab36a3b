/// A fixed instant for templates that print today's date through
/// transformers' `strftime_now(format)` (Llama 3.x, Mistral Small 3, gpt-oss):
/// given one, `strftime_now` is defined and formats this instant; without
/// one it is not defined. The wall clock is never read, so a render is a
/// function of its inputs.
///
///     JinjaClock(year: 2026, month: 12, day: 4).strftime("%d %b %Y")   // "04 Dec 2026"
///
/// The formats are glibc's `strftime` in the C locale for the directives
/// templates use: %a %A %b %B %d %e %H %I %j %m %M %p %S %y %Y %F %T %%, with
/// glibc's `-` flag (`%-d` → "4"); any other directive is kept as written.
public struct JinjaClock: Sendable, Equatable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August",
                             "September", "October", "November", "December"]
    static let dayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    var isValid: Bool {
        (1...12).contains(month) && (1...JinjaClock.daysIn(month, year)).contains(day)
            && (0...23).contains(hour) && (0...59).contains(minute) && (0...60).contains(second) && (1...9999).contains(year)
    }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysIn(_ m: Int, _ y: Int) -> Int {
        [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
    }

    /// Day of the year, 1-based.
    var dayOfYear: Int { (1..<month).reduce(day) { $0 + JinjaClock.daysIn($1, year) } }

    /// 0 = Monday … 6 = Sunday (Python's weekday()).
    var weekday: Int {
        // Days since 0001-01-01, which was a Monday.
        let y = year - 1
        let days = y * 365 + y / 4 - y / 100 + y / 400 + dayOfYear - 1
        return days % 7
    }

    public func strftime(_ format: String) -> String {
        func pad(_ v: Int, _ width: Int, _ fill: Character = "0") -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: fill, count: width - s.count) + s
        }
        var out = ""
        var chars = Array(format)[...]
        while let c = chars.popFirst() {
            guard c == "%", let next = chars.first else { out.append(c); continue }
            var directive = next
            var noPad = false
            if next == "-", chars.count >= 2 {
                noPad = true
                directive = chars[chars.index(after: chars.startIndex)]
            }
            func num(_ v: Int, _ width: Int) -> String { noPad ? String(v) : pad(v, width) }
            let hour12 = hour % 12 == 0 ? 12 : hour % 12
            var text: String? = nil
            switch directive {
            case "a": text = String(JinjaClock.dayNames[weekday].prefix(3))
            case "A": text = JinjaClock.dayNames[weekday]
            case "b", "h": text = String(JinjaClock.monthNames[month - 1].prefix(3))
            case "B": text = JinjaClock.monthNames[month - 1]
            case "d": text = num(day, 2)
            case "e": text = noPad ? String(day) : pad(day, 2, " ")
            case "H": text = num(hour, 2)
            case "I": text = num(hour12, 2)
            case "j": text = num(dayOfYear, 3)
            case "m": text = num(month, 2)
            case "M": text = num(minute, 2)
            case "p": text = hour < 12 ? "AM" : "PM"
            case "S": text = num(second, 2)
            case "y": text = num(year % 100, 2)
            case "Y": text = String(year)
            case "F": text = "\(year)-\(pad(month, 2))-\(pad(day, 2))"
            case "T": text = "\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))"
            case "%": text = noPad ? nil : "%"
            default: text = nil
            }
            if let text {
                out += text
                chars = chars.dropFirst(noPad ? 2 : 1)
            } else {
                out.append("%")   // unknown: kept as written
            }
        }
        return out
    }
}
