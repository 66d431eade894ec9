using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Sessions;
using Switchboard.Testing;

namespace Switchboard.FunctionalTests;

/// <summary>
/// The shared in-process server (see <see cref="InProcessServer"/>) with the functional tests'
/// app handlers and an error log, plus raw-client helpers.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime, IAsyncDisposable
{
    public const string ApiKey = InProcessServer.ApiKey;

    private readonly string[] _extraArguments;
    private InProcessServer? _server;

    public ServerFixture() : this([])
    {
    }

    private ServerFixture(string[] extraArguments) => _extraArguments = extraArguments;

    /// <summary>Starts a server of its own with extra settings (later arguments win).</summary>
    public static async Task<ServerFixture> StartAsync(params string[] extraArguments)
    {
        var server = new ServerFixture(extraArguments);
        await server.InitializeAsync();
        return server;
    }

    /// <summary>Errors the server logged: an exception that escaped to the host shows up here.</summary>
    public ErrorLog Errors { get; } = new();

    /// <summary>The app's channel authorizer (it only acts on namespace <c>club</c> and on RPCs of user <c>mallory</c>).</summary>
    internal ClubAuthorizer Authorizer { get; } = new();

    private InProcessServer Server => _server ?? throw new InvalidOperationException("not started");

    internal WebApplication App => Server.App;

    public FakeTimeProvider Time => Server.Time;

    public Uri BaseAddress => Server.BaseAddress;

    public Uri WebSocketUri => Server.WebSocketUri;

    internal Node Node => App.Services.GetRequiredService<Node>();

    public async Task InitializeAsync()
        => _server = await InProcessServer.StartAsync(_extraArguments, services =>
        {
            services.AddSingleton<ILoggerProvider>(Errors);
            services.AddSingleton<IRpcHandler, EchoRpcHandler>();
            services.AddSingleton<IRpcHandler, RefusingRpcHandler>();
            services.AddSingleton<ISendHandler, ReplyingSendHandler>();
            services.AddSingleton<IChannelAuthorizer>(Authorizer);
        });

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
            _server = null;
        }
    }

    public async Task<RawClient> ConnectAsync(string? token = null)
    {
        var client = await RawClient.OpenAsync(WebSocketUri);
        var reply = await client.CommandAsync(token is null ? "\"connect\":{}" : $"\"connect\":{{\"token\":\"{token}\"}}");
        Assert.True(reply.TryGetProperty("connect", out _), reply.ToString());
        return client;
    }

    public HttpClient Api() => Server.Api();
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "server";
}
