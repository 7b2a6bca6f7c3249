import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading user text: the one place that turns a file (or "-", standard
/// input) into a String, refusing invalid UTF-8 with the offending byte's offset.
/// Every module reads user files through here.
public enum TextFile {
    /// The file's text. `what` names the file in errors ("data file", …).
    public static func read(_ path: String, what: String) throws -> String {
        var isDirectory: ObjCBool = false
        if path != "-" && FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw FileError("\(what) '\(path)' is a directory; give a text file")
        }
        let data = try bytes(path, what: what)
        if let bad = firstInvalidUTF8(data) {
            throw FileError("\(what) '\(path)' is not valid UTF-8: bad byte 0x\(String(format: "%02X", data[data.startIndex + bad])) at byte offset \(bad)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The whole content of a file ("-": standard input), read with plain
    /// read(2) so that devices, pipes and /proc files work as ordinary files.
    public static func bytes(_ path: String, what: String) throws -> Data {
        let fd = path == "-" ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("cannot read \(what) '\(path)': \(posixReason(errno))") }
        defer { if fd != STDIN_FILENO { close(fd) } }
        // Devices (/dev/null, /dev/zero, /dev/full, terminals) are not text
        // files: some never end. Pipes and /proc files read like files.
        var info = stat()
        var data = Data()
        if fstat(fd, &info) == 0, path != "-" {
            let kind = info.st_mode & S_IFMT
            if kind == S_IFCHR || kind == S_IFBLK { throw FileError("\(what) '\(path)' is a device, not a text file") }
            // A regular file's size is known: one allocation instead of one per doubling.
            if kind == S_IFREG { data.reserveCapacity(Int(info.st_size)) }
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { readSome(fd, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError("cannot read \(what) '\(path)': \(posixReason(errno))")
            }
            data.append(contentsOf: buffer[0..<n])
        }
        return data
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

/// read(2), spelled so that it is not taken for a method named `read`.
private func readSome(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.read(fd, buffer, count)
    #else
    return Darwin.read(fd, buffer, count)
    #endif
}
