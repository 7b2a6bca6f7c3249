import Foundation

/// Reading user text: the one place that turns a file (or "-", standard
/// input) into a String, refusing invalid UTF-8 with the offending byte's offset.
public enum TextFile {
    /// The file's text. `what` names the file in errors ("data file", …).
    public static func read(_ path: String, what: String) throws -> String {
        let data: Data
        var isDirectory: ObjCBool = false
        if path != "-" && FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw TokenizerError("\(what) '\(path)' is a directory; give a text file") }
            if !FileManager.default.isReadableFile(atPath: path) { throw TokenizerError("cannot read \(what) '\(path)': permission denied") }
        }
        do {
            data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerError("cannot read \(what) '\(path)': \((error as NSError).localizedDescription)")
        }
        if let bad = firstInvalidUTF8(data) {
            throw TokenizerError("\(what) '\(path)' is not valid UTF-8: bad byte 0x\(String(format: "%02X", data[data.startIndex + bad])) at byte offset \(bad)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Offset of the first byte that starts an invalid UTF-8 sequence, or nil.
    public static func firstInvalidUTF8(_ data: Data) -> Int? {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int? in
            var it = raw.bindMemory(to: UInt8.self).makeIterator()
            var parser = Unicode.UTF8.ForwardParser()
            var offset = 0
            while true {
                switch parser.parseScalar(from: &it) {
                case .valid(let s): offset += s.count
                case .emptyInput: return nil
                case .error: return offset
                }
            }
        }
    }
}
