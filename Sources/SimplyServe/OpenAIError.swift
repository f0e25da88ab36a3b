import SimplyCore

/// An error in OpenAI's shape, `{"error": {"message", "type", "param",
/// "code"}}`, with its HTTP status: what every OpenAI client parses into
/// its own exception (`openai.BadRequestError`, …).
public struct APIError: Error, Equatable, CustomStringConvertible {
    public let status: Int
    public let message: String
    public let type: String
    /// The request field at fault (`messages[1].content`, `temperature`, …).
    public let param: String?
    public let code: String?

    public init(status: Int = 400, _ message: String, type: String = "invalid_request_error", param: String? = nil,
                code: String? = nil) {
        self.status = status; self.message = message; self.type = type; self.param = param; self.code = code
    }

    /// 400, naming the field.
    public static func invalid(_ param: String, _ message: String, code: String? = nil) -> APIError {
        APIError(message, param: param, code: code)
    }

    public var description: String { "\(status) \(param.map { "\($0): " } ?? "")\(message)" }

    public var json: JSONValue {
        .object([("error", .object([
            ("message", .string(message)), ("type", .string(type)),
            ("param", param.map(JSONValue.string) ?? .null), ("code", code.map(JSONValue.string) ?? .null),
        ]))])
    }
}
