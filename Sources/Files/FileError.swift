import Foundation

/// A file that could not be read or written, in plain words: the path and the reason.
public struct FileError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// An IO error in plain words: "permission denied", "no space left on device", …
/// (Foundation's own text names internal domains and codes).
public func plainReason(_ error: Error) -> String {
    let ns = error as NSError
    if ns.domain == NSPOSIXErrorDomain { return posixReason(Int32(ns.code)) }
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return posixReason(Int32(underlying.code))
    }
    if ns.domain == NSCocoaErrorDomain {
        switch CocoaError.Code(rawValue: ns.code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: return posixReason(ENOENT)
        case .fileReadNoPermission, .fileWriteNoPermission: return posixReason(EACCES)
        case .fileWriteOutOfSpace: return posixReason(ENOSPC)
        case .fileWriteVolumeReadOnly: return posixReason(EROFS)
        case .fileWriteFileExists: return posixReason(EEXIST)
        default: break
        }
    }
    if ns.domain != NSCocoaErrorDomain { return "\(error)" }
    return "input/output error"
}

/// strerror's text, starting lower-case to continue a sentence.
public func posixReason(_ code: Int32) -> String {
    let text = String(cString: strerror(code))
    return text.prefix(1).lowercased() + text.dropFirst()
}
