import Foundation
import Files
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `body` on the bytes of the regular file at `url`, mapped read-only
/// for that time (an empty file gives an empty buffer): how a whole file is
/// read without a copy. Errors name the file and the reason.
func withReadOnlyMapping<T>(of url: URL, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
    func cannotRead(_ code: Int32) -> FormatError { FormatError("\(url.path): cannot read: \(posixReason(code))") }
    let fd = open(url.path, O_RDONLY)
    guard fd >= 0 else { throw cannotRead(errno) }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0 else { throw cannotRead(errno) }
    guard (status.st_mode & S_IFMT) == S_IFREG else { throw cannotRead((status.st_mode & S_IFMT) == S_IFDIR ? EISDIR : ENODEV) }
    let size = Int(status.st_size)
    guard size > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
    guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else { throw cannotRead(errno) }
    defer { munmap(mapped, size) }
    return try body(UnsafeRawBufferPointer(start: mapped, count: size))
}
