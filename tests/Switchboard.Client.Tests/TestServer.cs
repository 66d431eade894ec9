using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Sessions;
using Switchboard.Testing;

namespace Switchboard.Client.Tests;

/// <summary>
/// The real server, in process, on a free loopback port, with a fake clock (tokens are checked
/// against it; its pings never fire unless a test advances it). Same shape as the functional tests' fixture.
/// </summary>
public sealed class TestServer : IAsyncLifetime
{
    private readonly string[] _extraArguments;
    private InProcessServer? _server;

    /// <summary>The shared server of the test collection.</summary>
    public TestServer()
        : this([])
    {
    }

    /// <summary>
    /// A server of its own with extra configuration (e.g. <c>--Switchboard:Client:PingInterval=00:00:05</c>),
    /// for a test to start with <see cref="InitializeAsync"/> and stop with <see cref="DisposeAsync"/>.
    /// Internal: xUnit wants a single public constructor on a fixture.
    /// </summary>
    internal TestServer(params string[] extraArguments) => _extraArguments = extraArguments;

    private InProcessServer Server => _server ?? throw new InvalidOperationException("not started");

    public FakeTimeProvider Time => Server.Time;

    public Uri BaseAddress => Server.BaseAddress;

    public Uri WebSocketUri => Server.WebSocketUri;

    public async Task InitializeAsync()
        => _server = await InProcessServer.StartAsync(_extraArguments, services =>
        {
            services.AddSingleton<IRpcHandler, EchoRpcHandler>();
            services.AddSingleton<ISendHandler, ReplyingSendHandler>();
        });

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
            _server = null;
        }
    }

    /// <summary>A connection token for <paramref name="user"/>, valid an hour on the server's clock.</summary>
    public string Token(string user, int ttlSeconds = 3600) => Tokens.Connection(user, Time.GetUtcNow(), ttlSeconds);

    /// <summary>A client of this server (not connected yet).</summary>
    public SwitchboardClient Client(string? token = null, Action<SwitchboardClientOptions>? configure = null)
    {
        var options = new SwitchboardClientOptions { Token = token, Name = "client-tests" };
        configure?.Invoke(options);
        return new SwitchboardClient(WebSocketUri, options);
    }

    /// <summary>
    /// Advances the server's clock by <paramref name="seconds"/>, one second at a time (its heartbeat
    /// sweeps once a fake second), with two commands of <paramref name="client"/> going round after
    /// each second. The server handles a connection's messages in order: a ping sent in that second
    /// reaches the client before the first reply, the client queues its pong before it handles that
    /// reply, so the second command goes out after the pong and its reply proves the pong handled —
    /// before the next second can reach the pong deadline.
    /// </summary>
    public async Task AdvanceAsync(SwitchboardClient client, int seconds)
    {
        for (var i = 0; i < seconds; i++)
        {
            Time.Advance(TimeSpan.FromSeconds(1));
            await client.RpcAsync("echo", Waiting.Json("0")).WaitAsync(Waiting.Timeout);
            await client.RpcAsync("echo", Waiting.Json("0")).WaitAsync(Waiting.Timeout);
        }
    }

    public HttpClient Api() => Server.Api();
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<TestServer>
{
    public const string Name = "server";
}
