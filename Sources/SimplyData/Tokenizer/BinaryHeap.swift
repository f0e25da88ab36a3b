/// A binary min-heap: `pop` returns the smallest element by `<`. The BPE
/// encoder's merge queue (packed rank and position) and the BPE trainer's
/// pair queue (most frequent first) are both this heap.
struct BinaryHeap<Element: Comparable> {
    private var a: [Element]

    /// `sorted` must be in ascending order (a sorted array is a valid heap).
    init(sorted: [Element] = []) { a = sorted }

    mutating func push(_ x: Element) {
        a.append(x)
        var i = a.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if !(a[i] < a[p]) { break }
            a.swapAt(i, p); i = p
        }
    }

    mutating func pop() -> Element? {
        guard let top = a.first else { return nil }
        let last = a.removeLast()
        if !a.isEmpty {
            a[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < a.count && a[l] < a[m] { m = l }
                if r < a.count && a[r] < a[m] { m = r }
                if m == i { break }
                a.swapAt(i, m); i = m
            }
        }
        return top
    }
}
