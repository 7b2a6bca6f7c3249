import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Train

final class LinePlotTests: XCTestCase {
    func testOnePathPerSeriesBandsMarkerAndEscapedLabels() throws {
        var plot = LinePlot(title: "a <b> & c", xLabel: "step", yLabel: "loss", series: [
            .init("first", color: "#111", points: [(0, 2), (10, 1), (20, .nan)]),
            .init("second \"q\"", color: "#222", points: [(0, 3), (10, 2.5)], band: ([(0, 2.9), (10, 2.4)], [(0, 3.1), (10, 2.6)])),
            .init("empty", color: "#333", points: []),
        ])
        plot.marker = (15, "trained context 15")
        let svg = plot.svg()
        let document = try XMLDocument(data: Data(svg.utf8))
        XCTAssertEqual(try document.nodes(forXPath: "//*[local-name()='path']").count, 2, "one path per series with points")
        XCTAssertEqual(try document.nodes(forXPath: "//*[local-name()='polygon']").count, 1, "the band")
        XCTAssertTrue(svg.contains("a &lt;b&gt; &amp; c") && svg.contains("second &quot;q&quot;"))
        XCTAssertTrue(svg.contains("trained context 15") && svg.contains("stroke-dasharray"))
        XCTAssertFalse(svg.contains("nan"), "non-finite points are left out")
        // The first path's points run left to right: x grows with the step.
        let d = try XCTUnwrap(try document.nodes(forXPath: "//*[local-name()='path']/@d").first?.stringValue)
        let xs = d.split(separator: " ").filter { $0.contains(",") }.map { Double($0.split(separator: ",")[0])! }
        XCTAssertEqual(xs, xs.sorted())
    }

    func testArrangedDocumentsAddUpTheirSizes() throws {
        var a = LinePlot(title: "a", xLabel: "x", yLabel: "y", series: [.init("s", color: "#111", points: [(1, 1)])])
        a.width = 300; a.height = 200
        let side = arrangedSVG([a.svg(), a.svg()], horizontal: true)
        XCTAssertTrue(side.contains("width=\"600\" height=\"200\""))
        let stacked = arrangedSVG([a.svg(), a.svg()], horizontal: false)
        XCTAssertTrue(stacked.contains("width=\"300\" height=\"400\""))
        _ = try XMLDocument(data: Data(stacked.utf8))
    }
}
