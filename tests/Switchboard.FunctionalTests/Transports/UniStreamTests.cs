using System.Net;
using System.Text.Json;

namespace Switchboard.FunctionalTests.Transports;

/// <summary>
/// The unidirectional HTTP transports, <c>/connection/uni_http_stream</c> and
/// <c>/connection/uni_sse</c>: a connect request in, pushes out without the <c>push</c> wrapper.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class UniStreamTests(ServerFixture server)
{
    private Task<StreamClient> OpenAsync(string transport, string connectRequest) => transport switch
    {
        "uni_sse" => StreamClient.GetSseAsync(server.BaseAddress, "/connection/uni_sse", connectRequest),
        "uni_sse_post" => StreamClient.PostAsync(server.BaseAddress, "/connection/uni_sse", connectRequest, sse: true),
        _ => StreamClient.PostAsync(server.BaseAddress, "/connection/uni_http_stream", connectRequest),
    };

    private string TokenWithChannels(string user, params string[] channels)
        => Tokens.Connection(user, server.Time.GetUtcNow(), extra: ",\"channels\":" + JsonSerializer.Serialize(channels));

    [Theory]
    [InlineData("uni_http_stream")]
    [InlineData("uni_sse")]
    [InlineData("uni_sse_post")]
    public async Task The_connect_push_and_publications_of_server_side_subscriptions_come_unwrapped(string transport)
    {
        var channel = $"plain:uni-{transport}";
        await using var client = await OpenAsync(transport, $"{{\"token\":\"{TokenWithChannels($"una-{transport}", channel)}\",\"name\":\"probe\"}}");
        Assert.Equal(HttpStatusCode.OK, client.Response.StatusCode);
        var connect = (await client.NextAsync())!.Value;
        Assert.False(connect.TryGetProperty("push", out _));
        var result = connect.GetProperty("connect");
        Assert.True(result.GetProperty("subs").TryGetProperty(channel, out _), result.ToString());
        Assert.False(result.TryGetProperty("session", out _)); // nothing to emulate: the client only receives

        using var api = server.Api();
        await Api.PostAsync(api, "publish", $"{{\"channel\":\"{channel}\",\"data\":{{\"n\":1}}}}");
        var pub = (await client.NextNonPingAsync())!.Value;
        Assert.Equal(channel, pub.GetProperty("channel").GetString());
        Assert.Equal(1, pub.GetProperty("pub").GetProperty("data").GetProperty("n").GetInt32());
        var session = Assert.Single(server.Node.Sessions, s => s.User == $"una-{transport}" && s.TransportName == transport.Replace("_post", "", StringComparison.Ordinal));
        Assert.Null(session.Session);
    }

    [Theory]
    [InlineData("uni_http_stream")]
    [InlineData("uni_sse")]
    public async Task A_refused_connect_becomes_an_unwrapped_disconnect_and_the_end_of_the_response(string transport)
    {
        var forged = Tokens.Jwt($"{{\"sub\":\"mallory\",\"exp\":{server.Time.GetUtcNow().ToUnixTimeSeconds() + 60}}}", "not-the-server-secret-0123456789-abcdef");
        await using var client = await OpenAsync(transport, $"{{\"token\":\"{forged}\"}}");
        Assert.Equal(HttpStatusCode.OK, client.Response.StatusCode);
        var last = (await client.ReadToEndAsync())!.Value;
        Assert.False(last.TryGetProperty("push", out _));
        Assert.Equal(3500, last.GetProperty("disconnect").GetProperty("code").GetInt32());
    }

    [Theory]
    [InlineData("uni_http_stream", "not json")]
    [InlineData("uni_http_stream", "[1]")]
    [InlineData("uni_sse", "{\"token\":")]
    public async Task A_connect_request_that_is_not_json_is_400_and_opens_nothing(string transport, string body)
    {
        await using var client = await OpenAsync(transport, body);
        Assert.Equal(HttpStatusCode.BadRequest, client.Response.StatusCode);
    }

    [Fact]
    public async Task Server_side_subscriptions_recover_through_the_subs_of_the_connect_request()
    {
        var channel = "chat:uni-recover";
        using var api = server.Api();
        var first = (await Api.PostAsync(api, "publish", $"{{\"channel\":\"{channel}\",\"data\":{{\"n\":1}}}}")).GetProperty("result");
        var epoch = first.GetProperty("epoch").GetString();
        var offset = first.GetProperty("offset").GetUInt64();
        await Api.PostAsync(api, "publish", $"{{\"channel\":\"{channel}\",\"data\":{{\"n\":2}}}}");
        await Api.PostAsync(api, "publish", $"{{\"channel\":\"{channel}\",\"data\":{{\"n\":3}}}}");

        var request = $"{{\"token\":\"{TokenWithChannels("rhea", channel)}\",\"subs\":{{\"{channel}\":{{\"recover\":true,\"epoch\":\"{epoch}\",\"offset\":{offset}}}}}}}";
        await using var client = await OpenAsync("uni_http_stream", request);
        var sub = (await client.NextAsync())!.Value.GetProperty("connect").GetProperty("subs").GetProperty(channel);
        Assert.True(sub.GetProperty("recovered").GetBoolean(), sub.ToString());
        Assert.Equal([2, 3], sub.GetProperty("publications").EnumerateArray().Select(p => p.GetProperty("data").GetProperty("n").GetInt32()));
    }
}
