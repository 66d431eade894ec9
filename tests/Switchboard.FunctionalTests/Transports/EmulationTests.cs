using System.Net;
using System.Text;

namespace Switchboard.FunctionalTests.Transports;

/// <summary>
/// <c>POST /emulation</c> on one node (the memory engine): what it accepts, what it refuses, and
/// that a refused request touches no session.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class EmulationTests(ServerFixture server)
{
    private static List<(string Body, string Reason)> HostileBodies(string session, string node) =>
    [
        ("not json", "malformed JSON"),
        ("[1,2]", "expected a JSON object"),
        ("{}", "session required"),
        ($"{{\"session\":7,\"node\":\"{node}\",\"data\":\"{{}}\"}}", "session required"),
        ($"{{\"session\":\"abc\",\"node\":\"{node}\",\"data\":\"{{}}\"}}", "malformed session"),
        ($"{{\"session\":\"{session.ToUpperInvariant()}\",\"node\":\"{node}\",\"data\":\"{{}}\"}}", "malformed session"),
        ($"{{\"session\":\"{new string('z', 32)}\",\"node\":\"{node}\",\"data\":\"{{}}\"}}", "malformed session"),
        ($"{{\"session\":\"../../{session[6..]}\",\"node\":\"{node}\",\"data\":\"{{}}\"}}", "malformed session"),
        ($"{{\"session\":\"{session}\",\"data\":\"{{}}\"}}", "node required"),
        ($"{{\"session\":\"{session}\",\"node\":\"node-1\",\"data\":\"{{}}\"}}", "malformed node"),
        ($"{{\"session\":\"{session}\",\"node\":\"{node}\"}}", "data required"),
        ($"{{\"session\":\"{session}\",\"node\":\"{node}\",\"data\":5}}", "data must be a string of commands"),
        ($"{{\"session\":\"{session}\",\"node\":\"{node}\",\"data\":\"\"}}", "data is empty"),
        // A second "session" must not slip past the check of the first.
        ($"{{\"session\":\"{session}\",\"session\":\"{new string('0', 32)}\",\"node\":\"{node}\",\"data\":\"{{}}\"}}", "malformed JSON"),
    ];

    [Fact]
    public async Task Malformed_requests_get_400_with_a_reason_and_leave_the_session_untouched()
    {
        await using var client = await StreamClient.ConnectHttpStreamAsync(server.BaseAddress);
        foreach (var (body, reason) in HostileBodies(client.Session, client.Node))
        {
            using var response = await StreamClient.PostEmulationAsync(server.BaseAddress, body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal(reason, await response.Content.ReadAsStringAsync());
        }
        using (var large = await StreamClient.PostEmulationAsync(server.BaseAddress,
            $"{{\"session\":\"{client.Session}\",\"node\":\"{client.Node}\",\"data\":\"{new string(' ', 70 * 1024)}{{}}\"}}"))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, large.StatusCode);
        }
        using (var protobuf = await StreamClient.PostEmulationAsync(server.BaseAddress, "\u0001\u0002", "application/octet-stream"))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, protobuf.StatusCode);
        }
        using (var http = StreamClient.Http(server.BaseAddress))
        using (var get = await http.GetAsync(new Uri("/emulation", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        }

        // None of it reached the session: no pong without a ping (3501), no command; it works on.
        var reply = await client.CallAsync("\"subscribe\":{\"channel\":\"plain:emu-survivor\"}");
        Assert.True(reply.TryGetProperty("subscribe", out _), reply.ToString());
        Assert.Null(server.Node.FindEmulationSession(client.Session)?.DisconnectCode);
    }

    [Fact]
    public async Task A_session_that_is_not_here_is_404_when_there_is_no_other_node()
    {
        var unknown = new string('a', 32);
        foreach (var node in new[] { server.Node.Uid, Guid.NewGuid().ToString() })
        {
            using var response = await StreamClient.PostEmulationAsync(server.BaseAddress, $"{{\"session\":\"{unknown}\",\"node\":\"{node}\",\"data\":\"{{}}\"}}");
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
    }

    [Fact]
    public async Task A_command_may_also_come_as_a_json_object()
    {
        await using var client = await StreamClient.ConnectHttpStreamAsync(server.BaseAddress);
        var body = $"{{\"session\":\"{client.Session}\",\"node\":\"{client.Node}\",\"data\":{{\"id\":5,\"subscribe\":{{\"channel\":\"plain:emu-object\"}}}}}}";
        using var response = await StreamClient.PostEmulationAsync(server.BaseAddress, body);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var reply = (await client.NextNonPingAsync())!.Value;
        Assert.Equal(5, reply.GetProperty("id").GetInt32());
        Assert.True(reply.TryGetProperty("subscribe", out _), reply.ToString());
    }

    [Fact]
    public async Task A_second_connect_by_emulation_breaks_the_protocol_and_ends_the_session_with_3501()
    {
        await using var client = await StreamClient.ConnectHttpStreamAsync(server.BaseAddress);
        using var response = await client.EmulateAsync("{\"id\":2,\"connect\":{}}");
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(3501, await client.DisconnectCodeAsync());
    }

    [Fact]
    public async Task Emulated_commands_count_against_the_sessions_command_rate()
    {
        await using var limited = await ServerFixture.StartAsync("--Switchboard:Client:CommandBurst=3", "--Switchboard:Client:CommandRate=1");
        await using var client = await StreamClient.ConnectHttpStreamAsync(limited.BaseAddress);
        var commands = new StringBuilder();
        for (var id = 2; id <= 5; id++)
        {
            commands.Append($"{{\"id\":{id},\"presence_stats\":{{\"channel\":\"plain:rate\"}}}}\n");
        }
        using var response = await client.EmulateAsync(commands.ToString().TrimEnd('\n'));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var codes = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            var reply = (await client.NextNonPingAsync())!.Value;
            codes.Add(reply.TryGetProperty("error", out var error) ? error.GetProperty("code").GetInt32() : 0);
        }
        // The connect took one token of three: two more pass (answered, here with 108 — no
        // presence in `plain`), then the bucket is empty and the rest get 111.
        Assert.Equal(111, codes[^1]);
        Assert.Equal(2, codes.Count(c => c != 111));
    }
}
