import LWSTransport
import Testing

@testable import HRHub

/// The route table: which handler answers, and the answers it gives by itself (404, 405 with `allow`, HEAD, OPTIONS).
@Suite struct HTTPRouterTests {
    /// Handlers that say who answered and with which parameters.
    final class Context: Sendable {
        func record(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
            .response(.text(200, "record \(parameters["classId"]) \(request.head.method)"))
        }
        func upload(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
            .response(
                .text(200, "upload \(parameters["classId"])/\(parameters["participantId"]) \(request.body.count)"))
        }
        func live(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply { .response(.text(200, "live")) }
        func picker(_ request: HTTPRequest, _ parameters: RouteParameters) -> HTTPReply {
            .response(.text(200, "picker"))
        }
    }

    let router: HTTPRouter<Context> = {
        var router = HTTPRouter<Context>()
        router.add(.get, "/v1/classes/live", Context.live)
        router.add(.get, "/v1/classes/{classId}/record", Context.record)
        router.add(.post, "/v1/classes/{classId}/participants/{participantId}/samples", Context.upload)
        router.add(.get, "/v1/classes/{classId}/participants/{participantId}/samples", Context.live)
        router.add(.get, "/classes/", Context.picker)
        return router
    }()

    func answer(_ method: HTTPMethod, _ path: String, body: [UInt8] = []) -> HTTPResponse? {
        let request = HTTPRequest(id: HTTPRequestID(1), head: HTTPRequestHead(method: method, path: path), body: body)
        guard case .response(let response) = router.reply(to: request, in: Context()) else { return nil }
        return response
    }

    func text(_ response: HTTPResponse?) -> String { String(decoding: response?.body ?? [], as: UTF8.self) }

    @Test func parametersReachTheHandler() {
        #expect(text(answer(.get, "/v1/classes/spin-7/record")) == "record spin-7 GET\n")
        let upload = answer(.post, "/v1/classes/spin-7/participants/anna/samples", body: [1, 2, 3])
        #expect(text(upload) == "upload spin-7/anna 3\n")
    }

    @Test func literalSegmentsMatchExactlyAndParametersNeedAValue() {
        #expect(text(answer(.get, "/v1/classes/live")) == "live\n")
        #expect(text(answer(.get, "/classes/")) == "picker\n")
        #expect(answer(.get, "/v1/classes//record")?.status == 404)
        #expect(answer(.get, "/v1/classes/spin-7/record/")?.status == 404)
        #expect(answer(.get, "/classes")?.status == 404)
    }

    @Test func unknownPathIs404NamingIt() {
        let response = answer(.post, "/v1/nothing")
        #expect(response?.status == 404 && text(response) == "not found: /v1/nothing\n")
    }

    @Test func unservedMethodIs405WithAllow() {
        let response = answer(.delete, "/v1/classes/spin-7/participants/anna/samples")
        #expect(response?.status == 405)
        #expect(response?.headers == [HTTPHeader("allow", "POST, GET, HEAD, OPTIONS")])
        #expect(
            text(response)
                == "method DELETE not allowed on /v1/classes/spin-7/participants/anna/samples: "
                + "allowed POST, GET, HEAD, OPTIONS\n")
        #expect(answer(.post, "/v1/classes/live")?.headers == [HTTPHeader("allow", "GET, HEAD, OPTIONS")])
    }

    @Test func headUsesTheGetHandlerAndOptionsListsTheMethods() {
        #expect(text(answer(.head, "/v1/classes/spin-7/record")) == "record spin-7 HEAD\n")
        let options = answer(.options, "/v1/classes/spin-7/record")
        #expect(options?.status == 204 && options?.body == [])
        #expect(options?.headers == [HTTPHeader("allow", "GET, HEAD, OPTIONS")])
    }
}
