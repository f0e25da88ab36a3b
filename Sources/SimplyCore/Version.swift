/// The Simply version recorded in every run's config.json. Bits of a
/// deterministic run are a function of (config, data bytes, this version).
public enum Simply {
    public static let version = "0.1.0"
}
